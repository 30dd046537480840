//! The state every HTTP handler reaches, the API's and the console's alike: the store, the clock, the
//! signing keys, the wake-ups of the background loops and the deployment's limits. It sits below both
//! `api` and `console` so that neither has to import the other to share it.

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::option_rules::{Limits, RequestLimits};
use crate::keys::KeyRing;
use crate::store::Store;
use crate::worker::wake::Wake;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Clock,
    pub keys: Arc<KeyRing>,
    pub wake: Arc<Wake>,
    /// Wakes the dispatchers of other instances sharing the database.
    pub peers: Arc<crate::worker::peers::PeerWake>,
    /// Stores accepted messages with group commit.
    pub committer: crate::worker::committer::Committer,
    /// Set when a flow-control key is created, so the dispatcher starts claiming under flow control.
    pub flow_keys: Arc<crate::worker::dispatcher::FlowKeys>,
    /// Wakes the bulk worker when an async bulk action is accepted.
    pub bulk_wake: Arc<Wake>,
    /// Wakes the scheduler when a schedule is created, replaced or resumed.
    pub schedule_wake: Arc<Wake>,
    pub token: Arc<str>,
    /// The viewers' token (`--readonly-token`): GET requests only.
    pub readonly_token: Option<Arc<str>>,
    pub limits: Limits,
    pub max_body_bytes: usize,
    pub request_limits: RequestLimits,
    /// Deliveries in flight per instance (`GET /v2/globalParallelism`).
    pub max_in_flight: usize,
    /// How long a deduplication key holds.
    pub dedup_window_ms: i64,
    /// Messages due sooner than this wake the dispatcher at once; later ones are found by its timer.
    pub wake_horizon_ms: i64,
    /// Which destinations (and callbacks) are accepted.
    pub destination_policy: Arc<crate::domain::net_policy::DestinationPolicy>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub health: Health,
    /// The rate bound of the unauthenticated workflow webhooks.
    pub hook_limiter: Arc<crate::domain::workflow::hook_limit::HookLimiter>,
}

impl AppState {
    /// Messages are due now or soon: wake this instance's dispatcher and those of the other instances.
    pub fn wake_dispatchers(&self) {
        self.wake.notify();
        self.peers.notify();
    }
}

/// What readiness looks at besides the database.
#[derive(Clone)]
pub struct Health {
    /// The dispatcher, when this instance runs the background loops.
    pub dispatcher: Option<Arc<crate::worker::dispatcher::Dispatcher>>,
    pub shutdown: tokio_util::sync::CancellationToken,
}
