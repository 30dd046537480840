//! The dispatcher owns claim → deliver → complete. Claims are short statements that set a lease; deliveries
//! run outside any transaction, at most `max_in_flight` at once; completions are written back in batches by
//! one completer task. Leases of deliveries still running are extended, so a crash is recovered within one
//! lease however long a destination takes.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::deliver::Deliverer;
use super::fairness::{ByteBudget, HostShares, HostSlot, Waiting};
use super::leases::HeldLeases;
use super::wake::Wake;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::{Claim, Completion, CompletionKind, Message, Store};

/// What ended a sleep of the dispatch loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Woken {
    /// Its time came (or shutdown).
    Timer,
    /// New work: a message accepted or made due here or by another instance, a retry or a queue's turn.
    Work,
    /// A host's place freed (see [`HostShares`]).
    Place,
}

/// Longest a saturated dispatcher waits for more slots to free up before claiming for those it has.
const SLOT_GATHER_WAIT: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy)]
pub struct DispatchConfig {
    pub lease: Duration,
    pub claim_batch: usize,
    pub max_in_flight: usize,
    /// Deliveries in flight to one destination host at once: its fair share of `max_in_flight`.
    pub max_in_flight_per_host: usize,
    /// Bytes of request and response bodies deliveries in flight may hold.
    pub max_in_flight_bytes: usize,
    /// Bytes of a response body a delivery may keep: reserved in the byte budget with its request body.
    pub response_body_limit: usize,
    /// Longest sleep without looking at the database: the backstop for messages other instances accept.
    pub poll_interval: Duration,
    pub shutdown_timeout: Duration,
}

/// Whether any flow-control key exists, so that the dispatcher skips the flow-control claim (a transaction
/// of its own) on databases that have none. Keys are never deleted: once seen, always true. Keys created by
/// this instance mark it at once; those of other instances are found by a look at most once a second.
#[derive(Debug, Default)]
pub struct FlowKeys {
    exist: AtomicBool,
    checked_at_ms: AtomicI64,
}

impl FlowKeys {
    pub fn mark(&self) {
        self.exist.store(true, Ordering::SeqCst);
    }

    async fn may_exist(&self, store: &Store) -> crate::store::Result<bool> {
        if self.exist.load(Ordering::SeqCst) {
            return Ok(true);
        }
        let now = crate::clock::system_now_ms();
        if now - self.checked_at_ms.load(Ordering::SeqCst) < 1_000 {
            return Ok(false);
        }
        self.checked_at_ms.store(now, Ordering::SeqCst);
        let exist = store.flow_control_any().await?;
        if exist {
            self.mark();
        }
        Ok(exist)
    }
}

pub struct Dispatcher {
    store: Store,
    clock: Clock,
    deliverer: Deliverer,
    config: DispatchConfig,
    wake: Arc<Wake>,
    flow_keys: Arc<FlowKeys>,
    /// Claims whose result is not written yet (delivery running or completion waiting), for lease
    /// extension and so that this instance's rescuer leaves them alone.
    held: Arc<HeldLeases>,
    metrics: Arc<Metrics>,
    /// See [`Dispatcher::last_loop_at_ms`].
    heartbeat_ms: AtomicI64,
    hosts: Arc<HostShares>,
    /// Woken when a host's place frees that a claim left out or a waiting message needs; kept apart from
    /// `wake` (new work) because a freed place alone makes a claim worth repeating only if it changes which
    /// hosts the claim leaves out.
    places: Arc<Wake>,
    bytes: ByteBudget,
    waiting: Waiting,
    /// This instance's id, kept with every lease it takes (see `store::Abandoned`).
    instance: String,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        clock: Clock,
        deliverer: Deliverer,
        config: DispatchConfig,
        wake: Arc<Wake>,
        flow_keys: Arc<FlowKeys>,
    ) -> Self {
        let places = Arc::new(Wake::default());
        let hosts = HostShares::new(config.max_in_flight_per_host, places.clone());
        let bytes = ByteBudget::new(config.max_in_flight_bytes, config.response_body_limit);
        Dispatcher {
            // A few claims' worth: hosts stay out of claims while theirs wait, so this fills only when many
            // hosts reach their share at once.
            waiting: Waiting::new(config.claim_batch * 4, hosts.clone()),
            hosts,
            places,
            bytes,
            store,
            clock,
            deliverer,
            config,
            wake,
            flow_keys,
            held: Arc::new(HeldLeases::default()),
            metrics: Arc::new(Metrics::new()),
            heartbeat_ms: AtomicI64::new(crate::clock::system_now_ms()),
            instance: crate::domain::ids::new_instance_id(),
        }
    }

    /// Takes leases under `instance` (this process's id) instead of a random id of its own.
    pub fn with_instance(mut self, instance: &str) -> Self {
        self.instance = instance.to_string();
        self
    }

    /// The leases this dispatcher holds; the maintenance loop must not rescue them.
    pub fn held_leases(&self) -> Arc<HeldLeases> {
        self.held.clone()
    }

    /// Reports claims to these metrics instead of to a registry of its own.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// When the dispatch loop last went round (system clock, ms): readiness checks it is alive.
    pub fn last_loop_at_ms(&self) -> i64 {
        self.heartbeat_ms.load(Ordering::Relaxed)
    }

    /// Deliveries this instance holds now: running, or finished with their result not yet written.
    pub fn deliveries_in_flight(&self) -> usize {
        self.held.len()
    }

    /// One step for tests and tools: claims what is due now, delivers it all, completes it. Returns how
    /// many attempts were made.
    pub async fn run_once(&self) -> crate::store::Result<usize> {
        let claimed = self.claim(self.config.claim_batch).await?;
        // Held until the results are written, like the claims of the loop.
        let claims: Vec<(String, i32)> = claimed.iter().map(|m| (m.id.as_str().to_owned(), m.attempt)).collect();
        for (id, attempt) in &claims {
            self.held.hold(id, *attempt);
        }
        let (admitted, over_share) = self.admit(claimed);
        let attempts = admitted.iter().map(|(m, _)| self.attempt(m));
        let mut completions = futures_util::future::join_all(attempts).await;
        let made = completions.len();
        completions.extend(over_share.iter().map(|m| self.hand_back(m)));
        let written = self.store.message_complete(self.clock.now_ms(), &completions).await;
        for (id, attempt) in &claims {
            self.held.release(id, *attempt);
        }
        written?;
        Ok(made)
    }

    /// Splits a claim into the messages whose host has room in its share (with their places) and those
    /// over it, which are handed back. Claims are taken in due order (and queue order), so a message handed
    /// back never lets a later one of its queue start first.
    fn admit(&self, mut claimed: Vec<Message>) -> (Vec<(Message, HostSlot)>, Vec<Message>) {
        claimed.sort_by_key(|m| (m.due_at, m.queue_order));
        let mut admitted = Vec::with_capacity(claimed.len());
        let mut over_share = Vec::new();
        for message in claimed {
            match self.hosts.try_admit(&message.url_host) {
                Some(slot) => admitted.push((message, slot)),
                None => over_share.push(message),
            }
        }
        (admitted, over_share)
    }

    /// Undoes the claim of a message over its host's share (in `run_once`, when too many wait, or at
    /// shutdown): due again at its old time, the attempt not counted.
    fn hand_back(&self, message: &Message) -> Completion {
        let host = &message.url_host;
        let cap = self.hosts.cap();
        tracing::debug!(message_id = %message.id, host, cap, "host at its share of in-flight deliveries; handing back");
        Completion {
            id: message.id.clone(),
            attempt: message.attempt,
            kind: CompletionKind::HandBack { due_at: message.due_at },
            queued: message.is_queued(),
            status: 0,
            error: Some(format!(
                "not sent yet: host {host} already has {cap} deliveries in flight (its share of this instance's \
                 capacity); waiting for one to finish"
            )),
            response: None,
            spawn: Vec::new(),
            fails_run: None,
        }
    }

    /// A workflow step whose history could not be read is not sent: due again in a second, the attempt
    /// not counted.
    fn history_unavailable(&self, message: &Message, error: &crate::store::StoreError) -> Completion {
        tracing::warn!(message_id = %message.id, %error, "workflow history not read; handing the step back");
        Completion {
            id: message.id.clone(),
            attempt: message.attempt,
            kind: CompletionKind::HandBack {
                due_at: self.clock.now_ms() + 1_000,
            },
            queued: message.is_queued(),
            status: 0,
            error: Some(format!(
                "not sent yet: the workflow run's history could not be read: {error}"
            )),
            response: None,
            spawn: Vec::new(),
            fails_run: None,
        }
    }

    /// One attempt; a panic inside it ends as a failed attempt instead of leaving the message in flight.
    async fn attempt(&self, message: &Message) -> Completion {
        let composed = match super::workflow::with_history(&self.store, message).await {
            Ok(composed) => composed,
            Err(error) => return self.history_unavailable(message, &error),
        };
        let message = composed.as_ref().unwrap_or(message);
        let attempt = self.deliverer.attempt(message, || self.clock.now_ms());
        super::panic_guard::unwind_to_failure(message, attempt, || self.clock.now_ms()).await
    }

    async fn claim(&self, limit: usize) -> crate::store::Result<Vec<Message>> {
        self.claim_at(self.clock.now_ms(), limit, &self.skip_hosts()).await
    }

    /// Hosts whose messages claims leave for later: those at their share, and those with messages waiting
    /// in memory (so that a claim never overtakes them). Sorted, so that two lists compare equal.
    fn skip_hosts(&self) -> Vec<String> {
        let mut hosts = self.hosts.saturated();
        hosts.extend(self.waiting.hosts());
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }

    /// Claims what is due at `now` (the time the caller will also plan its next look from).
    async fn claim_at(&self, now: i64, limit: usize, skip_hosts: &[String]) -> crate::store::Result<Vec<Message>> {
        let claim = Claim {
            now,
            lease_until: now + self.config.lease.as_millis() as i64,
            limit: limit as i64,
            skip_hosts,
            holder: &self.instance,
        };
        let mut claimed = self.store.message_claim_due(&claim).await?;
        let room = limit.saturating_sub(claimed.len());
        if room > 0 && self.flow_keys.may_exist(&self.store).await? {
            let rest = Claim {
                limit: room as i64,
                ..claim
            };
            claimed.extend(self.store.message_claim_flow_controlled(&rest).await?);
        }
        if !claimed.is_empty() {
            self.metrics.claimed(claimed.len());
        }
        Ok(claimed)
    }

    /// Runs until `shutdown` fires, then stops claiming, lets deliveries in flight finish within the
    /// shutdown timeout and writes their completions. Anything still running after that keeps its lease
    /// and is recovered when the lease expires.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let (completions, receiver) = mpsc::channel::<Completion>(self.config.max_in_flight * 2);
        let completer_finish = CancellationToken::new();
        let completer = tokio::spawn(self.clone().complete_batches(receiver, completer_finish.clone()));
        let lease_keeper_stop = CancellationToken::new();
        let lease_keeper = tokio::spawn(self.clone().keep_leases(lease_keeper_stop.clone()));
        let deliveries = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(self.config.max_in_flight));
        // After a claim that came back short while leaving hosts out: those hosts, and when to look again
        // anyway. While the same hosts are left out, a freed place is no reason to claim again: the claim
        // would only read past the same hosts' messages to find nothing new (with one busy host, its whole
        // backlog, once per delivery).
        let mut short: Option<(Vec<String>, Instant)> = None;

        while !shutdown.is_cancelled() {
            self.heartbeat_ms
                .store(crate::clock::system_now_ms(), Ordering::Relaxed);
            // Messages claimed earlier over their host's share go first, as their hosts free places.
            for (message, host_slot) in self.waiting.admissible(permits.available_permits()) {
                self.start(message, host_slot, &permits, &deliveries, &completions)
                    .await;
            }
            let room = permits
                .available_permits()
                .min(self.config.claim_batch)
                .min(self.bytes.room());
            if room == 0 {
                // Every slot (or the byte budget) is taken: wait for a batch of slots to free up, not just
                // one; claiming one message per freed slot would spend the database on one claim per delivery.
                // The loop still goes round every second, so readiness sees it alive while deliveries are slow.
                let slots_taken = permits.available_permits() == 0;
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = self.wait_for_slots(&permits), if slots_taken => {}
                    _ = self.bytes.wait_for_room(), if !slots_taken => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            let skip_hosts = self.skip_hosts();
            if let Some((skipped, look_at)) = short.take() {
                if skipped == skip_hosts && Instant::now() < look_at {
                    if self.sleep_until(look_at, &shutdown).await != Woken::Work {
                        short = Some((skipped, look_at));
                    }
                    continue;
                }
            }
            let claimed_at = self.clock.now_ms();
            let claimed = match self.claim_at(claimed_at, room, &skip_hosts).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::error!(%error, "claiming due messages failed; retrying in 1s");
                    self.sleep_or_wake(Duration::from_secs(1), &shutdown).await;
                    continue;
                }
            };
            let full = claimed.len() == room;
            let (admitted, over_share) = self.admit(claimed);
            for message in over_share {
                // Waiting messages keep their lease like deliveries in flight, until their result (a
                // delivery, or a hand-back) is written.
                self.held.hold(&message.id, message.attempt);
                if let Some(message) = self.waiting.push(message) {
                    // The completer only stops after this sender is dropped, so this cannot fail.
                    let _ = completions.send(self.hand_back(&message)).await;
                }
            }
            for (message, host_slot) in admitted {
                self.start(message, host_slot, &permits, &deliveries, &completions)
                    .await;
            }
            if !full {
                let look_at = Instant::now() + self.pause_after_claim(claimed_at).await;
                let woken = self.sleep_until(look_at, &shutdown).await;
                if woken == Woken::Place && !skip_hosts.is_empty() {
                    short = Some((skip_hosts, look_at));
                }
            }
        }

        for message in self.waiting.drain() {
            let _ = completions.send(self.hand_back(&message)).await;
        }
        deliveries.close();
        if tokio::time::timeout(self.config.shutdown_timeout, deliveries.wait())
            .await
            .is_err()
        {
            tracing::warn!("deliveries still running at shutdown keep their lease and will be retried");
        }
        drop(completions);
        completer_finish.cancel();
        let _ = completer.await;
        lease_keeper_stop.cancel();
        let _ = lease_keeper.await;
    }

    /// Starts the delivery of a claimed message that has its place in its host's share.
    async fn start(
        self: &Arc<Self>,
        message: Message,
        host_slot: HostSlot,
        permits: &Arc<Semaphore>,
        deliveries: &TaskTracker,
        completions: &mpsc::Sender<Completion>,
    ) {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        // Held from now on (even while waiting for the byte budget) until the completer writes the result.
        self.held.hold(&message.id, message.attempt);
        let bytes = self.bytes.reserve(message.body.len()).await;
        let this = self.clone();
        let completions = completions.clone();
        deliveries.spawn(async move {
            let completion = this.attempt(&message).await;
            // Free the host's place (which wakes the loop for messages waiting on it) and the bytes first.
            drop(host_slot);
            drop(bytes);
            // The completer only stops after this sender is dropped, so this cannot fail.
            let _ = completions.send(completion).await;
            drop(permit);
        });
    }

    /// Waits until a quarter of a claim batch of slots is free, or one slot and then at most
    /// `SLOT_GATHER_WAIT` more, whichever comes first.
    async fn wait_for_slots(&self, permits: &Semaphore) {
        let batch = (self.config.claim_batch.min(self.config.max_in_flight) / 4).max(1) as u32;
        drop(permits.acquire().await.expect("the semaphore is never closed"));
        if let Ok(Ok(gathered)) = tokio::time::timeout(SLOT_GATHER_WAIT, permits.acquire_many(batch)).await {
            drop(gathered);
        }
    }

    /// How long to sleep after a claim made at `claimed_at`: until the next message due after that claim,
    /// at most one poll interval; zero when one has become due since. The next due time is looked up from
    /// the claim's time, not from now: a message that became due between the claim and this look was
    /// neither claimed nor is it "next" after now, and would otherwise wait for the poll backstop.
    pub async fn pause_after_claim(&self, claimed_at: i64) -> Duration {
        let poll = self.config.poll_interval;
        match self.store.message_next_due_at(claimed_at).await {
            Ok(Some(due)) => {
                let wait = (due - self.clock.now_ms()).max(0) as u64;
                poll.min(Duration::from_millis(wait))
            }
            Ok(None) => poll,
            Err(error) => {
                tracing::error!(%error, "reading the next due time failed");
                poll
            }
        }
    }

    async fn sleep_or_wake(&self, pause: Duration, shutdown: &CancellationToken) {
        self.sleep_until(Instant::now() + pause, shutdown).await;
    }

    /// Sleeps until `deadline`, new work, a freed place or shutdown, and says which ended it.
    async fn sleep_until(&self, deadline: Instant, shutdown: &CancellationToken) -> Woken {
        if deadline <= Instant::now() {
            return Woken::Timer;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => Woken::Timer,
            _ = self.wake.notified() => Woken::Work,
            _ = self.places.notified() => Woken::Place,
            _ = shutdown.cancelled() => Woken::Timer,
        }
    }

    /// Writes completions in batches: whatever has arrived since the last write goes in one call. When
    /// `finish` fires it writes what has arrived and stops; deliveries still running then keep their lease.
    async fn complete_batches(self: Arc<Self>, mut receiver: mpsc::Receiver<Completion>, finish: CancellationToken) {
        let mut batch = Vec::with_capacity(256);
        let mut closed = false;
        loop {
            let received = if closed {
                receiver.recv_many(&mut batch, 512).await
            } else {
                tokio::select! {
                    n = receiver.recv_many(&mut batch, 512) => n,
                    _ = finish.cancelled() => {
                        receiver.close();
                        closed = true;
                        continue;
                    }
                }
            };
            if received == 0 {
                break;
            }
            let retries = batch
                .iter()
                .any(|c| matches!(c.kind, CompletionKind::Retry { .. } | CompletionKind::HandBack { .. }));
            let queued = batch.iter().any(|c| c.queued);
            // Callbacks, and the step that resumes the invoker of a run this batch fails, are due at once.
            let spawns = batch.iter().any(|c| !c.spawn.is_empty() || c.fails_run.is_some());
            let mut backoff = Duration::from_millis(100);
            loop {
                match self.store.message_complete(self.clock.now_ms(), &batch).await {
                    Ok(applied) => {
                        let overtaken = batch.len() as u64 - applied.min(batch.len() as u64);
                        if overtaken > 0 {
                            tracing::warn!(
                                overtaken,
                                "results written after their lease had lapsed and another instance had \
                                 taken the message over (this instance could not reach the database in time); \
                                 those messages may be delivered twice"
                            );
                        }
                        break;
                    }
                    Err(error) => {
                        // Never drop a completion: until it is written the message stays leased, and if
                        // we die meanwhile it is delivered again after the lease (at-least-once).
                        tracing::error!(%error, "writing completions failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
            for completion in &batch {
                self.held.release(&completion.id, completion.attempt);
            }
            batch.clear();
            if retries || queued || spawns {
                // A retry may now be the earliest due message; a finished queued message lets the next go.
                self.wake.notify();
            }
        }
    }

    /// Extends the leases of running deliveries and of results waiting to be written, every third of a
    /// lease.
    async fn keep_leases(self: Arc<Self>, stop: CancellationToken) {
        // Ticks measured from the start of each extension, not its end: a slow statement must not push
        // the next extension past the lease.
        let mut ticks = tokio::time::interval(self.config.lease / 3);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let claims = self.held.claims();
            if claims.is_empty() {
                continue;
            }
            let until = self.clock.now_ms() + self.config.lease.as_millis() as i64;
            if let Err(error) = self.store.message_extend_leases(&claims, until).await {
                tracing::error!(%error, "extending leases failed");
            }
        }
    }
}
