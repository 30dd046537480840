//! The scheduler owns firing: each due slot of a schedule becomes an ordinary message, exactly once per
//! slot (the store's `schedule_fire` moves the schedule past the slot and stores the message in one
//! transaction, only if no one else moved it first). One instance at a time runs this loop, holding a lease
//! row with a term in the database (not a session lock, so it works behind transaction-mode poolers);
//! another takes over within `LEADER_LEASE` + `LEADER_RETRY` when the leader dies, at once when it shuts
//! down, and a process alone on its database (SQLite under its file lock) takes it at start whatever the
//! last holder left. Two leaders for a moment (one that lost the database, or clocks that disagree by more
//! than the lease) cannot fire a slot twice: `schedule_fire` guards every slot, so the lease can be short.
//!
//! After downtime a schedule fires once for all the slots it missed (not a burst), then continues from the
//! next slot after now.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::wake::Wake;
use crate::clock::Clock;
use crate::domain::destination::{Destination, DestinationUrl};
use crate::domain::ids::new_message_id;
use crate::domain::message::NewMessage;
use crate::store::{Endpoint, Fire, LeaderLease, Schedule, Store};

/// How often an instance that is not the leader tries to become it, and the leader renews its lease: one
/// short statement per instance every half second.
const LEADER_RETRY: Duration = Duration::from_millis(500);
/// How long the leader's lease lasts without renewal (three renewals may fail before another takes over).
/// After a leader dies another instance fires within `LEADER_LEASE` + `LEADER_RETRY` (2.5 s), so a slot
/// due just after the crash fires less than 3 s late. Shorter would let a leader that is slow to reach the
/// database (a busy pool, a pause) lose the lease to another for nothing; exactly once holds either way.
const LEADER_LEASE: Duration = Duration::from_secs(2);
/// The lease row of this loop.
const LEADER_NAME: &str = "scheduler";
/// Schedules fired per step.
const FIRE_BATCH: i64 = 500;
/// `next_fire_at` of a schedule whose expression has no slot left (it stays, but never fires).
const NEVER: i64 = i64::MAX / 4;

pub struct Scheduler {
    pub store: Store,
    pub clock: Clock,
    /// Wakes the dispatcher when a fired message is due.
    pub dispatch: Arc<Wake>,
    /// Woken when a schedule is created, updated or resumed.
    pub wake: Arc<Wake>,
    pub poll_interval: Duration,
    /// Whether this instance holds the scheduler lock now.
    pub leading: AtomicBool,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// This process's instance id: the holder of the lease row while it leads.
    pub instance: String,
    /// No other process can hold the lease (SQLite under its file lock): a lease left by a previous run
    /// is taken over at start instead of after it lapses.
    pub sole_owner: bool,
}

impl Scheduler {
    pub fn is_leading(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    /// Fires every schedule whose slot has come, in batches of one transaction each; returns how many slots
    /// this call fired.
    pub async fn run_once(&self) -> crate::store::Result<usize> {
        let now = self.clock.now_ms();
        let mut fired = 0;
        loop {
            let due = self.store.schedule_due(now, FIRE_BATCH).await?;
            let groups = self.groups_of(&due).await?;
            let fires: Vec<Fire> = due.iter().filter_map(|schedule| fire(schedule, &groups, now)).collect();
            if fires.is_empty() {
                return Ok(fired);
            }
            let done = self.store.schedule_fire(now, &fires).await?;
            fired += done.len();
            for fire in fires.iter().filter(|f| done.contains(&f.schedule_id)) {
                self.metrics.schedule_fired(now - fire.slot);
                self.metrics
                    .accepted(crate::metrics::AcceptedKind::schedule, fire.messages.len());
            }
            if fires.iter().any(|f| f.messages.iter().any(|m| m.not_before <= now)) {
                self.dispatch.notify();
            }
            if (due.len() as i64) < FIRE_BATCH {
                return Ok(fired);
            }
        }
    }

    /// The endpoints of every URL group these schedules fire to, each group read once.
    async fn groups_of(&self, due: &[Schedule]) -> crate::store::Result<HashMap<String, Vec<Endpoint>>> {
        let mut groups = HashMap::new();
        for schedule in due {
            if let Destination::UrlGroup(name) = &schedule.destination {
                if !groups.contains_key(name) {
                    let endpoints = self.store.url_group_get(name).await?.map(|g| g.endpoints);
                    groups.insert(name.clone(), endpoints.unwrap_or_default());
                }
            }
        }
        Ok(groups)
    }

    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let lease = LeaderLease {
            name: LEADER_NAME,
            holder: self.instance.clone(),
        };
        let lease_ms = LEADER_LEASE.as_millis() as i64;
        // (term, until when the last successful renewal holds it).
        let mut held: Option<(i64, i64)> = None;
        while !shutdown.is_cancelled() {
            let now = self.clock.now_ms();
            held = match held {
                Some((term, until)) => match self.store.leader_renew(&lease, term, now + lease_ms).await {
                    Ok(true) => Some((term, now + lease_ms)),
                    Ok(false) => {
                        tracing::warn!(term, "another instance took over the cron scheduler");
                        None
                    }
                    Err(error) if now < until => {
                        tracing::error!(%error, "renewing the scheduler lease failed; retrying");
                        Some((term, until))
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the scheduler lease lapsed; another instance may take over");
                        None
                    }
                },
                // Alone on the database, any lease in the row was left by a process that is gone: lapsed.
                None => match self
                    .store
                    .leader_acquire(&lease, if self.sole_owner { i64::MAX } else { now }, now + lease_ms)
                    .await
                {
                    Ok(Some(term)) => {
                        tracing::info!(term, "running the cron scheduler on this instance");
                        Some((term, now + lease_ms))
                    }
                    Ok(None) => None,
                    Err(error) => {
                        tracing::error!(%error, "trying the scheduler lease failed");
                        None
                    }
                },
            };
            self.leading.store(held.is_some(), Ordering::SeqCst);
            let pause = if held.is_some() {
                if let Err(error) = self.run_once().await {
                    tracing::error!(%error, "firing schedules failed");
                }
                self.pause_until_next_slot().await.min(LEADER_RETRY)
            } else {
                LEADER_RETRY
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.cancelled() => {}
            }
        }
        self.leading.store(false, Ordering::SeqCst);
        // Hand over at once instead of after the lease.
        if let Some((term, _)) = held {
            if let Err(error) = self.store.leader_release(&lease, term).await {
                tracing::warn!(%error, "releasing the scheduler lease failed; another takes over when it lapses");
            }
        }
    }

    async fn pause_until_next_slot(&self) -> Duration {
        match self.store.schedule_next_fire_at().await {
            Ok(Some(at)) => {
                let wait = (at - self.clock.now_ms()).max(0) as u64;
                self.poll_interval.min(Duration::from_millis(wait))
            }
            Ok(None) => self.poll_interval,
            Err(error) => {
                tracing::error!(%error, "reading the next slot failed");
                self.poll_interval
            }
        }
    }
}

/// The slot a due schedule fires now: its messages (one, or one per endpoint of its URL group as the group
/// is now), and the next slot after now (so missed slots fire once).
fn fire(schedule: &Schedule, groups: &HashMap<String, Vec<Endpoint>>, now: i64) -> Option<Fire> {
    let messages = match &schedule.destination {
        Destination::Url(url) => vec![fired_message(schedule, url.clone(), now)],
        Destination::UrlGroup(group) => {
            let endpoints = groups.get(group).map(Vec::as_slice).unwrap_or_default();
            if endpoints.is_empty() {
                tracing::warn!(schedule_id = %schedule.id, %group, "URL group has no endpoints; the slot creates no message");
            }
            endpoints
                .iter()
                .filter_map(|e| {
                    let Ok(url) = DestinationUrl::parse(&e.url) else {
                        tracing::error!(schedule_id = %schedule.id, %group, url = %e.url, "stored endpoint URL no longer parses; skipping it");
                        return None;
                    };
                    let mut message = fired_message(schedule, url, now);
                    message.topic_name = Some(group.clone());
                    message.endpoint_name = e.name.clone();
                    Some(message)
                })
                .collect()
        }
    };
    let next_fire_at = schedule.cron.next_after(now).unwrap_or(NEVER);
    Some(Fire {
        schedule_id: schedule.id.clone(),
        slot: schedule.next_fire_at,
        next_fire_at,
        messages,
    })
}

/// The message one fire creates: the schedule's destination, body and settings, due after its delay.
fn fired_message(s: &Schedule, url: DestinationUrl, now: i64) -> NewMessage {
    NewMessage {
        id: new_message_id(),
        url,
        method: s.method.clone(),
        header: s.header.clone(),
        body: s.body.clone().into(),
        max_retries: s.max_retries,
        timeout_ms: s.timeout_ms,
        not_before: now + s.delay_ms.unwrap_or(0),
        created_at: now,
        caller_ip: s.caller_ip.clone(),
        labels: s.labels.clone(),
        schedule_id: Some(s.id.clone()),
        retry_delay_expression: s.retry_delay.as_ref().map(|d| d.source().to_string()),
        topic_name: None,
        endpoint_name: None,
        queue_name: s.queue_name.clone(),
        queue_order: None,
        flow_control_key: s.flow_control.as_ref().map(|f| f.key.clone()),
        redact: s.redact.clone(),
        callback: s.callback.clone(),
        failure_callback: s.failure_callback.clone(),
        workflow: None,
    }
}
