//! Prometheus metrics: one registry per running app (tests run many apps in one process, so nothing is
//! global), exposed at `GET /metrics` in the OpenMetrics text format. Names follow Prometheus conventions:
//! a `postdate_` prefix, the unit in the name, `_total` on counters. Labels take a few fixed values each,
//! except `host`, which names at most `MAX_HOST_LABELS` destination hosts (then `other`), so the number of
//! series stays bounded whatever users publish. No label ever carries a token, key or header value.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Destination hosts that get a label of their own; the rest are counted under `other`.
const MAX_HOST_LABELS: usize = 20;

/// How a message came to be accepted.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum AcceptedKind {
    publish,
    batch,
    enqueue,
    schedule,
    callback,
    dlq_retry,
    workflow,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum AttemptOutcome {
    success,
    http_4xx,
    http_5xx,
    /// 1xx and 3xx (redirects are not followed).
    http_other,
    timeout,
    connect_error,
    refused_by_policy,
    /// Not sent, not counted against the message: the host's circuit is open (too many recent attempts could
    /// not reach it) and the message waits for its probe.
    circuit_open,
    /// This machine ran out of descriptors or memory; the attempt is not counted against the message.
    local_resource,
    /// Anything else without a response (the connection dropped, the attempt panicked, …).
    error,
}

/// What a message-count gauge counts.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum MessageGaugeState {
    /// Pending, not due yet.
    waiting,
    /// Pending and due: the backlog.
    due,
    in_flight,
    /// Pending after at least one failed attempt.
    retrying,
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum ScheduleGaugeState {
    active,
    paused,
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum ConnectionState {
    in_use,
    idle,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: AcceptedKind,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: AttemptOutcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostOutcomeLabel {
    host: String,
    outcome: AttemptOutcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MessageStateLabel {
    state: MessageGaugeState,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScheduleStateLabel {
    state: ScheduleGaugeState,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunStateLabel {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionStateLabel {
    state: ConnectionState,
}

/// Counts of the database, refreshed by one periodic query (see `store_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub waiting: i64,
    pub due: i64,
    pub in_flight: i64,
    pub retrying: i64,
    pub dlq_entries: i64,
    /// Due time of the oldest due message, if any.
    pub oldest_due_at: Option<i64>,
    pub schedules_active: i64,
    pub schedules_paused: i64,
    /// Workflow runs kept (within their retention): started, succeeded, failed, cancelled.
    pub workflow_runs: [i64; 4],
    /// Workflow steps waiting for an event.
    pub workflow_waiters: i64,
}

fn histogram(start: f64, factor: f64, buckets: u16) -> Histogram {
    Histogram::new(exponential_buckets(start, factor, buckets))
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Every metric of one app. Cheap to share (`Arc<Metrics>`); updates are atomic.
pub struct Metrics {
    registry: Registry,
    accepted: Family<KindLabel, Counter>,
    attempts: Family<OutcomeLabel, Counter>,
    attempts_by_host: Family<HostOutcomeLabel, Counter>,
    labelled_hosts: Mutex<HashSet<String>>,
    delivered: Counter,
    retried: Counter,
    dead_lettered: Counter,
    cancelled: Counter,
    schedule_fires: Counter,
    delivery_duration: Histogram,
    lateness: Histogram,
    schedule_lateness: Histogram,
    claim_batch: Histogram,
    store_operations: Family<OperationLabel, Histogram>,
    messages: Family<MessageStateLabel, Gauge>,
    dlq_entries: Gauge,
    oldest_due_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    in_flight: Gauge,
    schedules: Family<ScheduleStateLabel, Gauge>,
    scheduler_leader: Gauge,
    database_connections: Family<ConnectionStateLabel, Gauge>,
    workflow_runs_started: Counter,
    workflow_runs: Family<RunStateLabel, Gauge>,
    workflow_waiters: Gauge,
    /// Per-minute deliveries and failures for the console's chart.
    pub throughput: crate::throughput::ThroughputHistory,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::default(),
            accepted: Family::default(),
            attempts: Family::default(),
            attempts_by_host: Family::default(),
            labelled_hosts: Mutex::new(HashSet::new()),
            delivered: Counter::default(),
            retried: Counter::default(),
            dead_lettered: Counter::default(),
            cancelled: Counter::default(),
            schedule_fires: Counter::default(),
            // 1 ms … ~16 min
            delivery_duration: histogram(0.001, 2.0, 21),
            lateness: histogram(0.001, 2.0, 21),
            schedule_lateness: histogram(0.001, 2.0, 21),
            claim_batch: histogram(1.0, 2.0, 12),
            store_operations: Family::new_with_constructor(|| histogram(0.0001, 2.0, 18)),
            messages: Family::default(),
            dlq_entries: Gauge::default(),
            oldest_due_age: Gauge::default(),
            in_flight: Gauge::default(),
            schedules: Family::default(),
            scheduler_leader: Gauge::default(),
            database_connections: Family::default(),
            workflow_runs_started: Counter::default(),
            workflow_runs: Family::default(),
            workflow_waiters: Gauge::default(),
            throughput: Default::default(),
        };
        m.register();
        m.create_fixed_series();
        m
    }

    /// Every series whose labels are known in advance exists from the start at zero, so dashboards and
    /// alerts see a 0 rather than no data, and `rate()` counts the first event.
    fn create_fixed_series(&self) {
        use AcceptedKind as K;
        use AttemptOutcome as O;
        for kind in [
            K::publish,
            K::batch,
            K::enqueue,
            K::schedule,
            K::callback,
            K::dlq_retry,
            K::workflow,
        ] {
            drop(self.accepted.get_or_create(&KindLabel { kind }));
        }
        let outcomes = [
            O::success,
            O::http_4xx,
            O::http_5xx,
            O::http_other,
            O::timeout,
            O::connect_error,
            O::refused_by_policy,
            O::circuit_open,
            O::local_resource,
            O::error,
        ];
        for outcome in outcomes {
            drop(self.attempts.get_or_create(&OutcomeLabel { outcome }));
        }
        self.set_store_stats(&StoreStats::default(), 0);
        self.set_database_connections(0, 0);
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        r.register(
            "postdate_messages_accepted",
            "Messages accepted, by how they came (publish, batch, enqueue, schedule, callback, dlq_retry)",
            self.accepted.clone(),
        );
        r.register(
            "postdate_delivery_attempts",
            "Delivery attempts, by outcome",
            self.attempts.clone(),
        );
        r.register(
            "postdate_destination_attempts",
            "Delivery attempts by destination host (the first 20 hosts seen; the rest under host=\"other\")",
            self.attempts_by_host.clone(),
        );
        r.register(
            "postdate_messages_delivered",
            "Messages delivered (a 2xx)",
            self.delivered.clone(),
        );
        r.register(
            "postdate_messages_retried",
            "Failed attempts that will be retried",
            self.retried.clone(),
        );
        r.register(
            "postdate_messages_dead_lettered",
            "Messages that failed their last attempt and went to the DLQ",
            self.dead_lettered.clone(),
        );
        r.register(
            "postdate_messages_cancelled",
            "Messages cancelled (or asked to stop) through the API",
            self.cancelled.clone(),
        );
        r.register(
            "postdate_schedule_fires",
            "Schedule slots fired (each makes one message, or one per URL-group endpoint)",
            self.schedule_fires.clone(),
        );
        r.register(
            "postdate_delivery_duration_seconds",
            "Time from sending a delivery to its answer (or failure)",
            self.delivery_duration.clone(),
        );
        r.register(
            "postdate_delivery_lateness_seconds",
            "Time from a message's due time to the start of its attempt",
            self.lateness.clone(),
        );
        r.register(
            "postdate_schedule_fire_lateness_seconds",
            "Time from a schedule's slot to the moment it fired",
            self.schedule_lateness.clone(),
        );
        r.register(
            "postdate_claim_batch_messages",
            "Messages taken by one claim of the dispatcher",
            self.claim_batch.clone(),
        );
        r.register(
            "postdate_store_operation_duration_seconds",
            "Duration of database operations, by operation name",
            self.store_operations.clone(),
        );
        r.register(
            "postdate_messages",
            "Messages by state (waiting: not due yet; due: the backlog; in_flight; retrying), counted up to 100000 each",
            self.messages.clone(),
        );
        r.register(
            "postdate_dlq_entries",
            "Entries in the dead-letter queue (counted up to 100000)",
            self.dlq_entries.clone(),
        );
        r.register(
            "postdate_oldest_due_message_age_seconds",
            "How long the oldest due message has been waiting (0 when nothing is due)",
            self.oldest_due_age.clone(),
        );
        r.register(
            "postdate_deliveries_in_flight",
            "Deliveries this instance is running now",
            self.in_flight.clone(),
        );
        r.register(
            "postdate_schedules",
            "Schedules, active or paused",
            self.schedules.clone(),
        );
        r.register(
            "postdate_scheduler_leader",
            "1 when this instance runs the cron loop",
            self.scheduler_leader.clone(),
        );
        r.register(
            "postdate_database_connections",
            "Database pool connections of this instance, in use or idle",
            self.database_connections.clone(),
        );
        r.register(
            "postdate_workflow_runs_started",
            "Workflow runs started by a trigger this instance accepted (a deduplicated trigger starts none)",
            self.workflow_runs_started.clone(),
        );
        r.register(
            "postdate_workflow_runs",
            "Workflow runs kept (ended ones for their retention) by state, counted up to 100000 each",
            self.workflow_runs.clone(),
        );
        r.register(
            "postdate_workflow_waiters",
            "Workflow steps waiting for an event (counted up to 100000)",
            self.workflow_waiters.clone(),
        );
    }

    /// The exposition, in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    pub fn accepted(&self, kind: AcceptedKind, messages: usize) {
        self.accepted.get_or_create(&KindLabel { kind }).inc_by(messages as u64);
    }

    /// One finished attempt: its outcome, host, duration and lateness (start minus due time).
    pub fn attempt(&self, outcome: AttemptOutcome, host: &str, duration: Duration, lateness_ms: i64) {
        self.attempts.get_or_create(&OutcomeLabel { outcome }).inc();
        let host = self.host_label(host);
        self.attempts_by_host
            .get_or_create(&HostOutcomeLabel { host, outcome })
            .inc();
        self.delivery_duration.observe(seconds(duration));
        self.lateness.observe(lateness_ms.max(0) as f64 / 1000.0);
    }

    fn host_label(&self, host: &str) -> String {
        let mut hosts = self.labelled_hosts.lock().expect("host label lock is never poisoned");
        if hosts.contains(host) {
            return host.to_string();
        }
        if hosts.len() < MAX_HOST_LABELS {
            hosts.insert(host.to_string());
            return host.to_string();
        }
        "other".to_string()
    }

    pub fn delivered(&self, n: u64) {
        self.delivered.inc_by(n);
    }

    pub fn retried(&self, n: u64) {
        self.retried.inc_by(n);
    }

    pub fn dead_lettered(&self, n: u64) {
        self.dead_lettered.inc_by(n);
    }

    pub fn cancelled(&self, n: u64) {
        self.cancelled.inc_by(n);
    }

    pub fn schedule_fired(&self, lateness_ms: i64) {
        self.schedule_fires.inc();
        self.schedule_lateness.observe(lateness_ms.max(0) as f64 / 1000.0);
    }

    pub fn claimed(&self, messages: usize) {
        self.claim_batch.observe(messages as f64);
    }

    pub fn store_operation(&self, operation: &'static str, duration: Duration) {
        self.store_operations
            .get_or_create(&OperationLabel { operation })
            .observe(seconds(duration));
    }

    pub fn set_in_flight(&self, n: usize) {
        self.in_flight.set(n as i64);
    }

    pub fn set_scheduler_leader(&self, leading: bool) {
        self.scheduler_leader.set(i64::from(leading));
    }

    pub fn set_database_connections(&self, in_use: u32, idle: u32) {
        let set = |state, n: u32| {
            self.database_connections
                .get_or_create(&ConnectionStateLabel { state })
                .set(i64::from(n));
        };
        set(ConnectionState::in_use, in_use);
        set(ConnectionState::idle, idle);
    }

    /// Adds this moment's delivered and failed-attempt totals to the console's per-minute history.
    pub fn sample_throughput(&self, now_ms: i64) {
        let failed = self.retried.get() + self.dead_lettered.get();
        self.throughput.sample(now_ms, self.delivered.get(), failed);
    }

    pub fn set_store_stats(&self, stats: &StoreStats, now_ms: i64) {
        let counts = [
            (MessageGaugeState::waiting, stats.waiting),
            (MessageGaugeState::due, stats.due),
            (MessageGaugeState::in_flight, stats.in_flight),
            (MessageGaugeState::retrying, stats.retrying),
        ];
        for (state, n) in counts {
            self.messages.get_or_create(&MessageStateLabel { state }).set(n);
        }
        self.dlq_entries.set(stats.dlq_entries);
        let age_ms = stats.oldest_due_at.map_or(0, |due| (now_ms - due).max(0));
        self.oldest_due_age.set(age_ms as f64 / 1000.0);
        let schedules = [
            (ScheduleGaugeState::active, stats.schedules_active),
            (ScheduleGaugeState::paused, stats.schedules_paused),
        ];
        for (state, n) in schedules {
            self.schedules.get_or_create(&ScheduleStateLabel { state }).set(n);
        }
        for (state, n) in ["started", "succeeded", "failed", "cancelled"]
            .into_iter()
            .zip(stats.workflow_runs)
        {
            self.workflow_runs.get_or_create(&RunStateLabel { state }).set(n);
        }
        self.workflow_waiters.set(stats.workflow_waiters);
    }

    pub fn workflow_run_started(&self) {
        self.workflow_runs_started.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_labels_are_bounded() {
        let m = Metrics::new();
        for n in 0..50 {
            m.attempt(AttemptOutcome::success, &format!("h{n}.example"), Duration::ZERO, 0);
        }
        let text = m.render();
        let series = text
            .lines()
            .filter(|l| l.starts_with("postdate_destination_attempts_total{"))
            .count();
        assert_eq!(series, MAX_HOST_LABELS + 1, "{text}");
        assert!(text.contains(r#"host="other",outcome="success"} 30"#), "{text}");
    }
}
