//! Builds everything from a `Config`, binds the listener (port 0 in tests), runs until the shutdown token
//! fires, then drains in order: stop accepting requests, stop claiming, finish deliveries (bounded), close.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::config::Config;
use crate::console::{self, Console};
use crate::keys::KeyRing;
use crate::server::ConnectionLimits;
use crate::state::{AppState, Health};
use crate::store::{Abandoned, Store, StoreError};
use crate::worker::breaker::BreakerConfig;
use crate::worker::bulk::BulkWorker;
use crate::worker::deliver::{Deliverer, NetworkOptions};
use crate::worker::dispatcher::{DispatchConfig, Dispatcher, FlowKeys};
use crate::worker::maintenance::{Maintenance, MaintenanceConfig};
use crate::worker::scheduler::Scheduler;
use crate::worker::stats::StatsRefresher;
use crate::worker::wake::Wake;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

pub struct App {
    listener: TcpListener,
    state: AppState,
    /// The web console's session key and caches.
    console: Console,
    dispatcher: Arc<Dispatcher>,
    maintenance: Arc<Maintenance>,
    scheduler: Arc<Scheduler>,
    bulk: Arc<BulkWorker>,
    stats: Arc<StatsRefresher>,
    shutdown: CancellationToken,
    run_workers: bool,
    limits: ConnectionLimits,
    shutdown_timeout: std::time::Duration,
    /// Dev mode: the listen address whose host, besides loopback names, requests may be addressed to.
    loopback_hosts_only: Option<String>,
}

/// File descriptors kept for everything but client connections: besides one per delivery in flight and
/// one per database connection, the listener, log files, DNS lookups and idle pooled outbound connections.
const FD_RESERVE_EXTRA: usize = 256;
/// The most client connections by default, however high the open-file limit.
const MAX_CONNECTIONS_DEFAULT_CAP: usize = 10_000;

/// The default connection cap: what the open-file limit leaves after the reserve for deliveries and the
/// database, so that a saturated listener never starves outbound deliveries of file descriptors.
pub fn default_max_connections(fd_limit: u64, max_in_flight: usize, database_connections: u32) -> usize {
    let reserve = max_in_flight + database_connections as usize + FD_RESERVE_EXTRA;
    let available = usize::try_from(fd_limit).unwrap_or(usize::MAX).saturating_sub(reserve);
    available.clamp(16, MAX_CONNECTIONS_DEFAULT_CAP)
}

impl App {
    /// Connects and migrates the database, loads the signing keys and binds the listener.
    pub async fn build(config: Config) -> Result<App, AppError> {
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let settings = crate::store::ConnectSettings {
            max_connections: config.database_connections,
            transaction_pooler: config.transaction_pooler,
            listen_url: config.listen_database_url.clone(),
            // A server on SQLite is the only process on its file (a second one fails here).
            sole_owner: config.sqlite_lock,
        };
        let store = Store::connect_with(&config.database_url, &settings)
            .await?
            .with_metrics(metrics.clone())
            .with_search_window(config.search_window);
        store.migrate().await?;
        // Whose leases a restart may take back at once (see `Abandoned`).
        let abandoned = match (&config.instance_id, store.is_sole_owner()) {
            (_, true) => Some(Abandoned::All),
            (Some(instance), false) => Some(Abandoned::HeldBy(instance.clone())),
            (None, false) => None,
        };
        let instance = config
            .instance_id
            .clone()
            .unwrap_or_else(crate::domain::ids::new_instance_id);
        let keys = Arc::new(KeyRing::load(&store, config.signing_keys.clone()).await?);
        let wake = Arc::new(Wake::default());
        let flow_keys = Arc::new(FlowKeys::default());
        let destination_policy = Arc::new(config.destination_policy.clone());
        let deliverer = Deliverer::new(
            keys.clone(),
            config.delivery_timeout,
            config.dlq_response_bytes,
            config.standard_webhooks_key.clone(),
            destination_policy.clone(),
            config.resolve_overrides.clone(),
            NetworkOptions {
                connect_timeout: config.connect_timeout,
                // Connections in use are bounded by the host's share; keep at most that many idle too.
                pool_max_idle_per_host: config.max_in_flight_per_host,
                breaker: BreakerConfig {
                    failure_rate: config.breaker_failure_rate,
                    min_attempts: config.breaker_min_attempts,
                    window: config.breaker_window,
                    cooldown: config.breaker_cooldown,
                    // An unreachable verdict comes within the connect timeout; a second more for its report.
                    probe_turn: config.connect_timeout + std::time::Duration::from_secs(1),
                },
            },
        )
        .with_log_response_limit(config.log_response_bytes)
        .with_metrics(metrics.clone());
        let read_limit = deliverer.read_limit();
        let dispatcher = Arc::new(
            Dispatcher::new(
                store.clone(),
                config.clock.clone(),
                deliverer,
                DispatchConfig {
                    lease: config.lease,
                    claim_batch: config.claim_batch,
                    max_in_flight: config.max_in_flight,
                    max_in_flight_per_host: config.max_in_flight_per_host,
                    max_in_flight_bytes: config.max_in_flight_bytes,
                    response_body_limit: read_limit,
                    poll_interval: config.poll_interval,
                    shutdown_timeout: config.shutdown_timeout,
                },
                wake.clone(),
                flow_keys.clone(),
            )
            .with_metrics(metrics.clone())
            .with_instance(&instance),
        );
        let maintenance = Arc::new(Maintenance {
            store: store.clone(),
            clock: config.clock.clone(),
            keys: keys.clone(),
            wake: wake.clone(),
            held: dispatcher.held_leases(),
            abandoned,
            limits: config.limits,
            config: MaintenanceConfig {
                rescue_every: (config.lease / 2).min(std::time::Duration::from_secs(5)),
                message_retention: config.message_retention,
                dlq_retention: config.dlq_retention,
                bulk_action_retention: config.bulk_action_retention,
                workflow_retention: config.workflow_retention,
            },
        });
        let bulk_wake = Arc::new(Wake::default());
        let bulk = Arc::new(BulkWorker::new(
            store.clone(),
            config.clock.clone(),
            bulk_wake.clone(),
            config.lease,
            metrics.clone(),
        ));
        let schedule_wake = Arc::new(Wake::default());
        let scheduler = Arc::new(Scheduler {
            store: store.clone(),
            clock: config.clock.clone(),
            dispatch: wake.clone(),
            wake: schedule_wake.clone(),
            poll_interval: config.poll_interval,
            leading: Default::default(),
            metrics: metrics.clone(),
            instance: instance.clone(),
            sole_owner: store.is_sole_owner(),
        });
        let stats = Arc::new(StatsRefresher {
            store: store.clone(),
            clock: config.clock.clone(),
            metrics: metrics.clone(),
            dispatcher: dispatcher.clone(),
            scheduler: scheduler.clone(),
        });
        let shutdown = CancellationToken::new();
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|source| AppError::Bind {
                addr: config.listen.clone(),
                source,
            })?;
        let committer = crate::worker::committer::Committer::start(store.clone());
        let state = AppState {
            store,
            clock: config.clock.clone(),
            keys,
            wake,
            peers: Arc::new(crate::worker::peers::PeerWake::default()),
            schedule_wake,
            bulk_wake,
            flow_keys,
            committer,
            token: config.token.as_str().into(),
            readonly_token: config.readonly_token.as_deref().map(Into::into),
            limits: config.limits,
            max_body_bytes: config.max_body_bytes,
            request_limits: config.request_limits,
            dedup_window_ms: config.dedup_window.as_millis() as i64,
            max_in_flight: config.max_in_flight,
            wake_horizon_ms: config.poll_interval.as_millis() as i64,
            destination_policy,
            metrics,
            health: Health {
                dispatcher: config.run_workers.then(|| dispatcher.clone()),
                shutdown: shutdown.clone(),
            },
            hook_limiter: Default::default(),
        };
        let max_connections = config.max_connections.unwrap_or_else(|| {
            let fd_limit = crate::config::open_file_limit();
            default_max_connections(fd_limit, config.max_in_flight, config.database_connections)
        });
        let limits = ConnectionLimits {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            body_read_timeout: config.body_read_timeout,
            max_connections,
        };
        Ok(App {
            limits,
            shutdown_timeout: config.shutdown_timeout,
            loopback_hosts_only: config.loopback_hosts_only.then(|| config.listen.clone()),
            listener,
            state,
            console: Console::new(
                &config.token,
                config.readonly_token.as_deref(),
                // Dev mode: the token is public and only loopback Host values are answered.
                config.loopback_hosts_only,
            ),
            dispatcher,
            maintenance,
            scheduler,
            bulk,
            stats,
            shutdown,
            run_workers: config.run_workers,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn store(&self) -> Store {
        self.state.store.clone()
    }

    pub fn signing_keys(&self) -> crate::domain::signing::SigningKeys {
        self.state.keys.get()
    }

    /// The engine, for tests that step it with `run_once`.
    pub fn dispatcher(&self) -> Arc<Dispatcher> {
        self.dispatcher.clone()
    }

    pub fn maintenance(&self) -> Arc<Maintenance> {
        self.maintenance.clone()
    }

    pub fn scheduler(&self) -> Arc<Scheduler> {
        self.scheduler.clone()
    }

    /// The bulk worker, for tests that step it with `run_once`.
    pub fn bulk(&self) -> Arc<BulkWorker> {
        self.bulk.clone()
    }

    /// The metrics gauges' refresher, for tests that step it.
    pub fn stats(&self) -> Arc<StatsRefresher> {
        self.stats.clone()
    }

    /// Cancel it to shut the app down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub async fn run(self) -> std::io::Result<()> {
        let workers_stop = CancellationToken::new();
        let mut workers = Vec::new();
        if self.run_workers {
            // Recover what a previous process left leased before taking new work: at once what it is known
            // to have abandoned, the rest as its leases lapse.
            if let Err(error) = self.maintenance.rescue_abandoned().await {
                tracing::error!(%error, "taking back the previous run's leases failed; they are rescued when they lapse");
            }
            if let Err(error) = self.maintenance.rescue_once().await {
                tracing::error!(%error, "initial lease rescue failed");
            }
            workers.push(tokio::spawn(self.dispatcher.clone().run(workers_stop.clone())));
            workers.push(tokio::spawn(self.maintenance.clone().run(workers_stop.clone())));
            workers.push(tokio::spawn(self.scheduler.clone().run(workers_stop.clone())));
            workers.push(tokio::spawn(self.bulk.clone().run(workers_stop.clone())));
            workers.push(tokio::spawn(self.stats.clone().run(workers_stop.clone())));
            let (store, wake) = (self.state.store.clone(), self.state.wake.clone());
            workers.push(tokio::spawn(crate::worker::peers::listen(
                store,
                wake,
                workers_stop.clone(),
            )));
        }
        // Publishes wake the other instances even when this one runs no workers.
        let (store, peers) = (self.state.store.clone(), self.state.peers.clone());
        workers.push(tokio::spawn(crate::worker::peers::send(
            peers,
            store,
            workers_stop.clone(),
        )));
        let store = self.state.store.clone();
        let mut router = routes(self.state, self.console);
        if let Some(listen) = &self.loopback_hosts_only {
            router = api::host::loopback_only(router, listen);
        }
        let hard_stop = CancellationToken::new();
        let server_done = CancellationToken::new();
        let serve = crate::server::serve(
            self.listener,
            router,
            self.limits,
            self.shutdown.clone(),
            hard_stop.clone(),
        );
        let done = server_done.clone();
        let server = tokio::spawn(async move {
            serve.await;
            done.cancel();
        });
        self.shutdown.cancelled().await;
        // Stop claiming at once: clients still connected must not keep the engine taking new work. The
        // dispatcher gives deliveries in flight up to the shutdown timeout itself.
        workers_stop.cancel();
        // Requests get up to the shutdown timeout to finish; then whatever is still open is closed.
        tokio::select! {
            _ = tokio::time::sleep(self.shutdown_timeout) => {}
            _ = server_done.cancelled() => {}
        }
        hard_stop.cancel();
        let _ = server.await;
        // Meanwhile the workers have been stopping; the dispatcher bounds its wait for deliveries in
        // flight by the same timeout and then records their completions.
        for worker in workers {
            let _ = worker.await;
        }
        store.close().await;
        Ok(())
    }
}

/// Every route: the API and the console beside it, our JSON 404 and 405 for what neither takes, and a
/// trace span around each request.
fn routes(state: AppState, console: Console) -> axum::Router {
    axum::Router::new()
        .merge(api::router(state.clone()))
        .merge(console::router(state, console))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn(api::trace::span))
}

#[cfg(test)]
mod tests {
    use super::default_max_connections;

    #[test]
    fn the_default_connection_cap_leaves_a_reserve_for_deliveries_and_the_database() {
        assert_eq!(default_max_connections(1024, 512, 16), 1024 - 512 - 16 - 256);
        assert_eq!(default_max_connections(1_048_576, 512, 16), 10_000);
        assert_eq!(default_max_connections(256, 512, 16), 16, "never none at all");
    }
}
