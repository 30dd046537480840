//! Command line and configuration. Every flag has an environment variable; `--help` shows both.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use clap::Args;

use crate::clock::Clock;
use crate::domain::duration::parse_duration;
use crate::domain::net_policy::DestinationPolicy;
use crate::domain::option_rules::{Limits, RequestLimits};
use crate::domain::signing::{standard_webhooks_key, SigningKeys};

/// The public credentials of Upstash's local dev server (spec §17): the JS SDK in dev mode finds a server
/// on port 8080 that accepts this token and signs with these keys, so `postdate dev` uses them by default.
pub const DEV_TOKEN: &str = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";
pub const DEV_CURRENT_SIGNING_KEY: &str = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
pub const DEV_NEXT_SIGNING_KEY: &str = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs";

const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
const DEFAULT_RETRIES: i32 = 3;
const DEFAULT_MAX_RETRIES: i32 = 20;
const DEFAULT_MAX_DELAY: &str = "365d";
const DEFAULT_DELIVERY_TIMEOUT: &str = "15m";
const DEFAULT_DLQ_RESPONSE_BYTES: usize = 64 * 1024;
/// Bytes of a failed response's body an ERROR log entry keeps by default, and at most: log entries are
/// listed by the hundred, so each stays small (a DLQ entry, one per failed message, may keep more).
pub const DEFAULT_LOG_RESPONSE_BYTES: usize = 4 * 1024;
pub const MAX_LOG_RESPONSE_BYTES: usize = 64 * 1024;
const DEFAULT_LEASE: &str = "30s";
/// Deliveries in flight by default: an in-flight delivery is a cheap async request, so this is bounded by
/// file descriptors (half the open-file limit, see `default_max_in_flight`), at most this many.
const DEFAULT_MAX_IN_FLIGHT_CAP: usize = 4_096;
/// Never fewer by default, whatever the open-file limit (the old fixed default).
const DEFAULT_MAX_IN_FLIGHT_FLOOR: usize = 512;
const DEFAULT_MAX_IN_FLIGHT_BYTES: usize = 512 * 1024 * 1024;
const DEFAULT_CONNECT_TIMEOUT: &str = "5s";
const DEFAULT_BREAKER_FAILURE_RATE: u8 = 50;
const DEFAULT_BREAKER_MIN_ATTEMPTS: u32 = 10;
const DEFAULT_BREAKER_WINDOW: &str = "30s";
const DEFAULT_BREAKER_COOLDOWN: &str = "30s";
const DEFAULT_POLL_INTERVAL: &str = "500ms";
const DEFAULT_MESSAGE_RETENTION: &str = "3d";
const DEFAULT_DLQ_RETENTION: &str = "14d";
const DEFAULT_BULK_ACTION_RETENTION: &str = "7d";
const DEFAULT_WORKFLOW_RETENTION: &str = "7d";
const DEFAULT_SHUTDOWN_TIMEOUT: &str = "10s";
const DEFAULT_DATABASE_CONNECTIONS: u32 = 16;
const DEFAULT_DEDUP_WINDOW: &str = "10m";
const DEFAULT_MAX_BATCH_ITEMS: usize = 1_000;
const DEFAULT_MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
const DEFAULT_MAX_GROUP_ENDPOINTS: usize = 1_000;
const DEFAULT_MAX_FAN_OUT: usize = 10_000;
const DEFAULT_HEADER_READ_TIMEOUT: &str = "10s";
const DEFAULT_IDLE_TIMEOUT: &str = "60s";
const DEFAULT_BODY_READ_TIMEOUT: &str = "30s";
const MIN_CONNECTION_TIMEOUT: Duration = Duration::from_millis(100);
/// `serve` refuses shorter tokens: they can be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// Settings shared by `dev` and `serve`.
// No Debug: it holds the token and keys, which must never reach a log.
#[derive(Args, Clone)]
pub struct EngineArgs {
    /// Bearer token clients must send (`serve` refuses to start without one; `dev` defaults to the public
    /// Upstash dev token).
    #[arg(long, env = "QSTASH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A second token, for viewers: with it the API answers only GET requests (403 to every other `/v2`
    /// request) and the web console shows no actions.
    #[arg(long, env = "POSTDATE_READONLY_TOKEN", hide_env_values = true)]
    pub readonly_token: Option<String>,
    /// Current signing key; with the next key, overrides the keys stored in the database.
    #[arg(
        long,
        env = "QSTASH_CURRENT_SIGNING_KEY",
        hide_env_values = true,
        requires = "next_signing_key"
    )]
    pub current_signing_key: Option<String>,
    /// Next signing key (receivers fall back to it).
    #[arg(
        long,
        env = "QSTASH_NEXT_SIGNING_KEY",
        hide_env_values = true,
        requires = "current_signing_key"
    )]
    pub next_signing_key: Option<String>,
    /// Largest accepted request body, in bytes (larger requests get 413).
    #[arg(long, env = "POSTDATE_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Most items in one /v2/batch request (more get 400).
    #[arg(long, env = "POSTDATE_MAX_BATCH_ITEMS", default_value_t = DEFAULT_MAX_BATCH_ITEMS)]
    pub max_batch_items: usize,
    /// Largest /v2/batch request body, in bytes (larger requests get 413).
    #[arg(long, env = "POSTDATE_MAX_BATCH_BYTES", default_value_t = DEFAULT_MAX_BATCH_BYTES)]
    pub max_batch_bytes: usize,
    /// Most endpoints in one URL group (adding more gets 400).
    #[arg(long, env = "POSTDATE_MAX_GROUP_ENDPOINTS", default_value_t = DEFAULT_MAX_GROUP_ENDPOINTS)]
    pub max_group_endpoints: usize,
    /// Most messages one request may create: URL-group fan-out, summed over a batch (more gets 400).
    #[arg(long, env = "POSTDATE_MAX_FAN_OUT", default_value_t = DEFAULT_MAX_FAN_OUT)]
    pub max_fan_out: usize,
    /// Retries when a message does not set Upstash-Retries.
    #[arg(long, env = "POSTDATE_DEFAULT_RETRIES", default_value_t = DEFAULT_RETRIES)]
    pub default_retries: i32,
    /// Upstash-Retries values above this are capped to it.
    #[arg(long, env = "POSTDATE_MAX_RETRIES", default_value_t = DEFAULT_MAX_RETRIES)]
    pub max_retries: i32,
    /// Longest accepted Upstash-Delay / Upstash-Not-Before distance.
    #[arg(long, env = "POSTDATE_MAX_DELAY", default_value = DEFAULT_MAX_DELAY, value_parser = duration)]
    pub max_delay: Duration,
    /// Per-attempt HTTP timeout when a message sets none; also the cap on Upstash-Timeout.
    #[arg(long, env = "POSTDATE_DELIVERY_TIMEOUT", default_value = DEFAULT_DELIVERY_TIMEOUT, value_parser = duration)]
    pub delivery_timeout: Duration,
    /// Bytes of a failed response body kept in the DLQ entry.
    #[arg(long, env = "POSTDATE_DLQ_RESPONSE_BYTES", default_value_t = DEFAULT_DLQ_RESPONSE_BYTES)]
    pub dlq_response_bytes: usize,
    /// Bytes of a failed attempt's response body kept on its ERROR log entry (`responseBody`); at most 65536.
    #[arg(long, env = "POSTDATE_LOG_RESPONSE_BYTES", default_value_t = DEFAULT_LOG_RESPONSE_BYTES)]
    pub log_response_bytes: usize,
    /// Lease on a claimed message; a crashed instance's deliveries are retried after it expires.
    #[arg(long, env = "POSTDATE_LEASE", default_value = DEFAULT_LEASE, value_parser = duration)]
    pub lease: Duration,
    /// Deliveries in flight at once, per instance. Default: half the open-file limit, between 512 and 4096.
    #[arg(long, env = "POSTDATE_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Deliveries in flight to one destination host at once, per instance: its fair share, so that a slow or
    /// hanging host never holds all capacity. Default: half of --max-in-flight.
    #[arg(long, env = "POSTDATE_MAX_IN_FLIGHT_PER_HOST")]
    pub max_in_flight_per_host: Option<usize>,
    /// Bytes of request and response bodies deliveries in flight may hold, per instance; each delivery counts
    /// its request body plus --dlq-response-bytes for its response.
    #[arg(long, env = "POSTDATE_MAX_IN_FLIGHT_BYTES", default_value_t = DEFAULT_MAX_IN_FLIGHT_BYTES)]
    pub max_in_flight_bytes: usize,
    /// Longest a delivery may take to connect to its destination (the response has --delivery-timeout).
    #[arg(long, env = "POSTDATE_CONNECT_TIMEOUT", default_value = DEFAULT_CONNECT_TIMEOUT, value_parser = duration)]
    pub connect_timeout: Duration,
    /// Percentage of a host's recent attempts (over --breaker-window) that could not reach it (refused or
    /// reset before the request was sent, DNS failure, connect timeout) at which its circuit opens: its
    /// deliveries then wait, without spending attempts, until a probe reaches the host. HTTP errors, slow
    /// responses and connections closed after the request was sent never count. 0 turns breakers off.
    #[arg(long, env = "POSTDATE_BREAKER_FAILURE_RATE", default_value_t = DEFAULT_BREAKER_FAILURE_RATE,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub breaker_failure_rate: u8,
    /// Fewest attempts to a host over --breaker-window before its failure rate can open its circuit.
    #[arg(long, env = "POSTDATE_BREAKER_MIN_ATTEMPTS", default_value_t = DEFAULT_BREAKER_MIN_ATTEMPTS)]
    pub breaker_min_attempts: u32,
    /// How far back a host's attempts count towards its failure rate.
    #[arg(long, env = "POSTDATE_BREAKER_WINDOW", default_value = DEFAULT_BREAKER_WINDOW, value_parser = duration)]
    pub breaker_window: Duration,
    /// How long a host's open circuit postpones its deliveries before one delivery probes the host again.
    #[arg(long, env = "POSTDATE_BREAKER_COOLDOWN", default_value = DEFAULT_BREAKER_COOLDOWN, value_parser = duration)]
    pub breaker_cooldown: Duration,
    /// Longest time between looks at the database for messages accepted by other instances.
    #[arg(long, env = "POSTDATE_POLL_INTERVAL", default_value = DEFAULT_POLL_INTERVAL, value_parser = duration)]
    pub poll_interval: Duration,
    /// How long finished (delivered, failed, canceled) messages stay readable.
    #[arg(long, env = "POSTDATE_MESSAGE_RETENTION", default_value = DEFAULT_MESSAGE_RETENTION, value_parser = duration)]
    pub message_retention: Duration,
    /// How long DLQ entries are kept.
    #[arg(long, env = "POSTDATE_DLQ_RETENTION", default_value = DEFAULT_DLQ_RETENTION, value_parser = duration)]
    pub dlq_retention: Duration,
    /// How long finished async bulk actions (`GET /v2/bulkActions`) stay readable after they finish.
    #[arg(long, env = "POSTDATE_BULK_ACTION_RETENTION", default_value = DEFAULT_BULK_ACTION_RETENTION, value_parser = duration)]
    pub bulk_action_retention: Duration,
    /// How long ended workflow runs (and their histories) are kept after they end.
    #[arg(long, env = "POSTDATE_WORKFLOW_RETENTION", default_value = DEFAULT_WORKFLOW_RETENTION, value_parser = duration)]
    pub workflow_retention: Duration,
    /// Time deliveries in flight get to finish on shutdown.
    #[arg(long, env = "POSTDATE_SHUTDOWN_TIMEOUT", default_value = DEFAULT_SHUTDOWN_TIMEOUT, value_parser = duration)]
    pub shutdown_timeout: Duration,
    /// Largest database connection pool (Postgres).
    #[arg(long, env = "POSTDATE_DATABASE_CONNECTIONS", default_value_t = DEFAULT_DATABASE_CONNECTIONS)]
    pub database_connections: u32,
    /// The database URL leads to a connection pooler in transaction mode (PgBouncer `pool_mode =
    /// transaction`, Supabase/Neon pooled URLs): keep no session state and no named prepared statements.
    #[arg(long, env = "POSTDATE_TRANSACTION_POOLER", default_value_t = false)]
    pub transaction_pooler: bool,
    /// This process's identity among the instances sharing a database, e.g. a StatefulSet pod name, or the
    /// host name where one instance runs per host. Started again under the same id, it takes back at once
    /// the deliveries its previous run left unfinished (killed, crashed) instead of waiting --lease for
    /// them. Never run two processes under one id at the same time: each would take the other's deliveries.
    /// Default: a new random id at every start.
    #[arg(long, env = "POSTDATE_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// A direct Postgres URL (not through a transaction pooler) for `LISTEN`, so instances wake each other
    /// at once; without it, behind a transaction pooler, they find each other's messages by polling.
    #[arg(long, env = "POSTDATE_LISTEN_DATABASE_URL", hide_env_values = true)]
    pub listen_database_url: Option<String>,
    /// Also sign every delivery with Standard Webhooks headers (webhook-id, webhook-timestamp,
    /// webhook-signature) under this secret (whsec_…), for receivers without a QStash SDK.
    #[arg(long, env = "POSTDATE_STANDARD_WEBHOOKS_SECRET", hide_env_values = true)]
    pub standard_webhooks_secret: Option<String>,
    /// How long a deduplication id (or content hash) answers with the first message published under it.
    #[arg(long, env = "POSTDATE_DEDUP_WINDOW", default_value = DEFAULT_DEDUP_WINDOW, value_parser = duration)]
    pub dedup_window: Duration,
    /// Destinations allowed although they are not public: comma-separated CIDRs, addresses and host names,
    /// e.g. `127.0.0.0/8,10.1.0.0/16,internal.example`. `serve` allows nothing else that is not public;
    /// `dev` also allows loopback and private ranges. Cloud metadata addresses only when listed here.
    #[arg(long, env = "POSTDATE_ALLOW_DESTINATIONS", value_delimiter = ',')]
    pub allow_destinations: Vec<String>,
    /// Longest a client may take to send a request head (and, on a new connection, to start one).
    #[arg(long, env = "POSTDATE_HEADER_READ_TIMEOUT", default_value = DEFAULT_HEADER_READ_TIMEOUT, value_parser = duration)]
    pub header_read_timeout: Duration,
    /// Longest a kept-alive connection may stay idle between requests.
    #[arg(long, env = "POSTDATE_IDLE_TIMEOUT", default_value = DEFAULT_IDLE_TIMEOUT, value_parser = duration)]
    pub idle_timeout: Duration,
    /// Longest a request body may take to arrive, from the end of its head (slower bodies get 408).
    #[arg(long, env = "POSTDATE_BODY_READ_TIMEOUT", default_value = DEFAULT_BODY_READ_TIMEOUT, value_parser = duration)]
    pub body_read_timeout: Duration,
    /// Client connections open at once; further clients wait until one closes. Default: the open-file
    /// limit minus a reserve for deliveries and the database, at most 10000.
    #[arg(long, env = "POSTDATE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
}

/// Everything `App::build` needs, resolved from the command line or written by tests. No Debug: it holds
/// the token, which must never reach a log.
#[derive(Clone)]
pub struct Config {
    pub listen: String,
    pub database_url: String,
    pub token: String,
    /// The viewers' token (`EngineArgs::readonly_token`).
    pub readonly_token: Option<String>,
    /// Keys from configuration; `None` means generate once and keep them in the database.
    pub signing_keys: Option<SigningKeys>,
    pub limits: Limits,
    pub max_body_bytes: usize,
    pub request_limits: RequestLimits,
    pub delivery_timeout: Duration,
    pub dlq_response_bytes: usize,
    pub log_response_bytes: usize,
    pub lease: Duration,
    pub max_in_flight: usize,
    pub max_in_flight_per_host: usize,
    pub max_in_flight_bytes: usize,
    pub connect_timeout: Duration,
    pub breaker_failure_rate: u8,
    pub breaker_min_attempts: u32,
    pub breaker_window: Duration,
    pub breaker_cooldown: Duration,
    pub claim_batch: usize,
    /// Rows a filtered list page searches at most (`store::SEARCH_WINDOW`; tests use a few).
    pub search_window: i64,
    pub poll_interval: Duration,
    pub message_retention: Duration,
    pub dlq_retention: Duration,
    pub bulk_action_retention: Duration,
    pub workflow_retention: Duration,
    pub shutdown_timeout: Duration,
    pub database_connections: u32,
    /// The database URL leads to a transaction-mode pooler (see `EngineArgs::transaction_pooler`).
    pub transaction_pooler: bool,
    /// Direct URL for `LISTEN` (see `EngineArgs::listen_database_url`).
    pub listen_database_url: Option<String>,
    /// A stable identity for this process (see `EngineArgs::instance_id`); `None`: random at every start.
    pub instance_id: Option<String>,
    /// Take the SQLite file's lock, so that this is the only process on it (see `store::sqlite::owner`).
    /// Always on for `dev` and `serve`; off only in tests that put a second app on one file on purpose.
    pub sqlite_lock: bool,
    pub dedup_window: Duration,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_read_timeout: Duration,
    /// `None`: derived from the open-file limit when the app is built.
    pub max_connections: Option<usize>,
    /// Dev mode: answer only requests whose Host is a loopback name or address or the listen host, so a
    /// web page cannot use DNS rebinding to reach a server that accepts the public dev token.
    pub loopback_hosts_only: bool,
    /// Key bytes of the Standard Webhooks secret, when deliveries carry those headers too.
    pub standard_webhooks_key: Option<Vec<u8>>,
    /// Which destinations may be accepted and dialled (SSRF protection).
    pub destination_policy: DestinationPolicy,
    /// Host names the delivery client resolves to these addresses instead of asking DNS; the policy still
    /// judges the addresses. Tests use it to point a name at a loopback receiver.
    pub resolve_overrides: HashMap<String, Vec<IpAddr>>,
    pub clock: Clock,
    /// Tests that drive the engine step by step turn the background loops off.
    pub run_workers: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "QSTASH_TOKEN is not set: `postdate serve` needs the token clients will send (set QSTASH_TOKEN or --token)"
    )]
    MissingToken,
    #[error("the token must not be empty")]
    EmptyToken,
    #[error("QSTASH_TOKEN is the public dev token, which anyone can use: `postdate serve` needs a secret token")]
    PublicDevToken,
    #[error("QSTASH_TOKEN is too short: `postdate serve` needs at least {MIN_TOKEN_CHARS} characters")]
    ShortToken,
    #[error("POSTDATE_READONLY_TOKEN must differ from QSTASH_TOKEN: a viewer's token must not grant changes")]
    ReadonlyTokenIsToken,
    #[error("POSTDATE_STANDARD_WEBHOOKS_SECRET: {0}")]
    StandardWebhooksSecret(String),
    #[error(
        "POSTDATE_LOG_RESPONSE_BYTES (--log-response-bytes) is {0}: at most {MAX_LOG_RESPONSE_BYTES} bytes \
         (64 KiB) of a response body are kept on a log entry"
    )]
    LogResponseBytes(usize),
    #[error("POSTDATE_ALLOW_DESTINATIONS: {0}")]
    AllowDestinations(String),
}

impl Config {
    pub fn from_args(
        listen: String,
        database_url: String,
        engine: EngineArgs,
        dev: bool,
    ) -> Result<Config, ConfigError> {
        let token = match (engine.token.clone(), dev) {
            (Some(token), _) => token,
            (None, true) => DEV_TOKEN.to_string(),
            (None, false) => return Err(ConfigError::MissingToken),
        };
        if token.trim().is_empty() {
            return Err(ConfigError::EmptyToken);
        }
        if !dev && token == DEV_TOKEN {
            return Err(ConfigError::PublicDevToken);
        }
        if !dev && token.chars().count() < MIN_TOKEN_CHARS {
            return Err(ConfigError::ShortToken);
        }
        let signing_keys = match (engine.current_signing_key.clone(), engine.next_signing_key.clone(), dev) {
            (Some(current), Some(next), _) => Some(SigningKeys { current, next }),
            (_, _, true) => Some(SigningKeys {
                current: DEV_CURRENT_SIGNING_KEY.into(),
                next: DEV_NEXT_SIGNING_KEY.into(),
            }),
            _ => None,
        };
        let readonly_token = engine.readonly_token.clone().filter(|t| !t.trim().is_empty());
        if readonly_token.as_ref().is_some_and(|t| *t == token) {
            return Err(ConfigError::ReadonlyTokenIsToken);
        }
        if !dev
            && readonly_token
                .as_ref()
                .is_some_and(|t| t.chars().count() < MIN_TOKEN_CHARS)
        {
            return Err(ConfigError::ShortToken);
        }
        if engine.log_response_bytes > MAX_LOG_RESPONSE_BYTES {
            return Err(ConfigError::LogResponseBytes(engine.log_response_bytes));
        }
        let mut config = Config::defaults(listen, database_url, token);
        config.readonly_token = readonly_token;
        config.signing_keys = signing_keys;
        config.standard_webhooks_key = engine
            .standard_webhooks_secret
            .as_deref()
            .map(standard_webhooks_key)
            .transpose()
            .map_err(ConfigError::StandardWebhooksSecret)?;
        // `dev` is for local development: the receiver usually runs on this machine or its network.
        let base_policy = if dev {
            DestinationPolicy::local_development()
        } else {
            DestinationPolicy::strict()
        };
        config.destination_policy = base_policy
            .allowing(&engine.allow_destinations)
            .map_err(ConfigError::AllowDestinations)?;
        config.apply(&engine);
        config.loopback_hosts_only = dev;
        Ok(config)
    }

    /// The defaults of the command line, with the given address, database and token.
    pub fn defaults(listen: String, database_url: String, token: String) -> Config {
        let engine = EngineArgs::default();
        let mut config = Config {
            listen,
            database_url,
            token,
            readonly_token: None,
            signing_keys: None,
            limits: Limits {
                default_retries: 0,
                max_retries: 0,
                max_delay_ms: 0,
                max_timeout_ms: 0,
            },
            max_body_bytes: 0,
            request_limits: RequestLimits {
                max_batch_items: 0,
                max_batch_bytes: 0,
                max_group_endpoints: 0,
                max_fan_out: 0,
            },
            delivery_timeout: Duration::ZERO,
            dlq_response_bytes: 0,
            log_response_bytes: 0,
            lease: Duration::ZERO,
            max_in_flight: 0,
            max_in_flight_per_host: 0,
            max_in_flight_bytes: 0,
            connect_timeout: Duration::ZERO,
            breaker_failure_rate: 0,
            breaker_min_attempts: 0,
            breaker_window: Duration::ZERO,
            breaker_cooldown: Duration::ZERO,
            claim_batch: 100,
            search_window: crate::store::SEARCH_WINDOW,
            poll_interval: Duration::ZERO,
            message_retention: Duration::ZERO,
            dlq_retention: Duration::ZERO,
            bulk_action_retention: Duration::ZERO,
            workflow_retention: Duration::ZERO,
            shutdown_timeout: Duration::ZERO,
            database_connections: 0,
            transaction_pooler: false,
            listen_database_url: None,
            instance_id: None,
            sqlite_lock: true,
            dedup_window: Duration::ZERO,
            header_read_timeout: Duration::ZERO,
            idle_timeout: Duration::ZERO,
            body_read_timeout: Duration::ZERO,
            max_connections: None,
            loopback_hosts_only: false,
            standard_webhooks_key: None,
            destination_policy: DestinationPolicy::strict(),
            resolve_overrides: HashMap::new(),
            clock: Clock::System,
            run_workers: true,
        };
        config.apply(&engine);
        config
    }

    fn apply(&mut self, e: &EngineArgs) {
        self.limits = Limits {
            default_retries: e.default_retries.clamp(0, e.max_retries.max(0)),
            max_retries: e.max_retries.max(0),
            max_delay_ms: e.max_delay.as_millis() as i64,
            max_timeout_ms: e.delivery_timeout.as_millis().max(1) as i64,
        };
        self.max_body_bytes = e.max_body_bytes;
        self.request_limits = RequestLimits {
            max_batch_items: e.max_batch_items.max(1),
            max_batch_bytes: e.max_batch_bytes,
            max_group_endpoints: e.max_group_endpoints.max(1),
            max_fan_out: e.max_fan_out.max(1),
        };
        self.delivery_timeout = e.delivery_timeout;
        self.dlq_response_bytes = e.dlq_response_bytes;
        self.log_response_bytes = e.log_response_bytes.min(MAX_LOG_RESPONSE_BYTES);
        self.lease = e.lease.max(Duration::from_millis(300));
        self.max_in_flight = e
            .max_in_flight
            .unwrap_or_else(|| default_max_in_flight(open_file_limit()))
            .max(1);
        self.max_in_flight_per_host = e
            .max_in_flight_per_host
            .unwrap_or(self.max_in_flight / 2)
            .clamp(1, self.max_in_flight);
        self.max_in_flight_bytes = e.max_in_flight_bytes.max(1);
        self.connect_timeout = e.connect_timeout.max(Duration::from_millis(1));
        self.breaker_failure_rate = e.breaker_failure_rate.min(100);
        self.breaker_min_attempts = e.breaker_min_attempts.max(1);
        self.breaker_window = e.breaker_window.max(Duration::from_millis(10));
        self.breaker_cooldown = e.breaker_cooldown;
        self.poll_interval = e.poll_interval.max(Duration::from_millis(1));
        self.message_retention = e.message_retention;
        self.dlq_retention = e.dlq_retention;
        self.bulk_action_retention = e.bulk_action_retention;
        self.workflow_retention = e.workflow_retention;
        self.shutdown_timeout = e.shutdown_timeout;
        self.database_connections = e.database_connections.max(2);
        self.transaction_pooler = e.transaction_pooler;
        self.listen_database_url = e.listen_database_url.clone();
        self.instance_id = e.instance_id.clone().filter(|id| !id.trim().is_empty());
        self.dedup_window = e.dedup_window;
        // A zero timeout would close every connection before its first request could arrive.
        self.header_read_timeout = e.header_read_timeout.max(MIN_CONNECTION_TIMEOUT);
        self.idle_timeout = e.idle_timeout.max(MIN_CONNECTION_TIMEOUT);
        self.body_read_timeout = e.body_read_timeout.max(MIN_CONNECTION_TIMEOUT);
        self.max_connections = e.max_connections.map(|n| n.max(1));
    }
}

/// The soft open-file limit (the binary raises it to the hard limit at start); 1024 if unknown.
pub fn open_file_limit() -> u64 {
    #[cfg(unix)]
    if let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        return soft;
    }
    1024
}

/// Deliveries in flight by default: half the open-file limit (the other half is for client connections,
/// the database and idle pooled connections), within the floor and the cap.
pub fn default_max_in_flight(fd_limit: u64) -> usize {
    usize::try_from(fd_limit / 2)
        .unwrap_or(usize::MAX)
        .clamp(DEFAULT_MAX_IN_FLIGHT_FLOOR, DEFAULT_MAX_IN_FLIGHT_CAP)
}

impl Default for EngineArgs {
    /// The flags' defaults, without reading the process arguments or environment (tests build configs).
    fn default() -> EngineArgs {
        let d = |s: &str| parse_duration(s).expect("default durations parse");
        EngineArgs {
            token: None,
            readonly_token: None,
            current_signing_key: None,
            next_signing_key: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_items: DEFAULT_MAX_BATCH_ITEMS,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            max_group_endpoints: DEFAULT_MAX_GROUP_ENDPOINTS,
            max_fan_out: DEFAULT_MAX_FAN_OUT,
            default_retries: DEFAULT_RETRIES,
            max_retries: DEFAULT_MAX_RETRIES,
            max_delay: d(DEFAULT_MAX_DELAY),
            delivery_timeout: d(DEFAULT_DELIVERY_TIMEOUT),
            dlq_response_bytes: DEFAULT_DLQ_RESPONSE_BYTES,
            log_response_bytes: DEFAULT_LOG_RESPONSE_BYTES,
            lease: d(DEFAULT_LEASE),
            max_in_flight: None,
            max_in_flight_per_host: None,
            max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
            connect_timeout: d(DEFAULT_CONNECT_TIMEOUT),
            breaker_failure_rate: DEFAULT_BREAKER_FAILURE_RATE,
            breaker_min_attempts: DEFAULT_BREAKER_MIN_ATTEMPTS,
            breaker_window: d(DEFAULT_BREAKER_WINDOW),
            breaker_cooldown: d(DEFAULT_BREAKER_COOLDOWN),
            poll_interval: d(DEFAULT_POLL_INTERVAL),
            message_retention: d(DEFAULT_MESSAGE_RETENTION),
            dlq_retention: d(DEFAULT_DLQ_RETENTION),
            bulk_action_retention: d(DEFAULT_BULK_ACTION_RETENTION),
            workflow_retention: d(DEFAULT_WORKFLOW_RETENTION),
            shutdown_timeout: d(DEFAULT_SHUTDOWN_TIMEOUT),
            database_connections: DEFAULT_DATABASE_CONNECTIONS,
            transaction_pooler: false,
            listen_database_url: None,
            instance_id: None,
            dedup_window: d(DEFAULT_DEDUP_WINDOW),
            standard_webhooks_secret: None,
            allow_destinations: Vec::new(),
            header_read_timeout: d(DEFAULT_HEADER_READ_TIMEOUT),
            idle_timeout: d(DEFAULT_IDLE_TIMEOUT),
            body_read_timeout: d(DEFAULT_BODY_READ_TIMEOUT),
            max_connections: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dev: bool, allow: &[&str]) -> Result<Config, ConfigError> {
        let engine = EngineArgs {
            token: Some("a-test-token-long-enough".into()),
            allow_destinations: allow.iter().map(|s| s.to_string()).collect(),
            ..EngineArgs::default()
        };
        Config::from_args("127.0.0.1:0".into(), "sqlite://x.db".into(), engine, dev)
    }

    #[test]
    fn serve_allows_public_destinations_only_and_dev_also_local_ones() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let serve = config(false, &[]).unwrap().destination_policy;
        for refused in ["127.0.0.1", "10.0.0.1", "169.254.169.254"] {
            assert!(serve.check_ip(ip(refused)).is_err(), "serve refuses {refused}");
        }
        assert!(serve.check_ip(ip("8.8.8.8")).is_ok());
        let dev = config(true, &[]).unwrap().destination_policy;
        for allowed in ["127.0.0.1", "::1", "10.0.0.1", "192.168.1.5"] {
            assert!(dev.check_ip(ip(allowed)).is_ok(), "dev allows {allowed}");
        }
        assert!(
            dev.check_ip(ip("169.254.169.254")).is_err(),
            "never metadata by default"
        );
        assert!(dev.check_name("metadata.google.internal").is_err());
        let listed = config(true, &["169.254.169.254"]).unwrap().destination_policy;
        assert!(listed.check_ip(ip("169.254.169.254")).is_ok(), "unless listed");
        let serve = config(false, &["127.0.0.0/8", "10.1.0.0/16", "internal.example"])
            .unwrap()
            .destination_policy;
        assert!(serve.check_ip(ip("127.0.0.1")).is_ok());
        assert!(serve.check_ip(ip("10.1.9.9")).is_ok());
        assert!(serve.check_ip(ip("10.2.0.1")).is_err());
        assert!(serve.host_is_allowed("internal.example"));
        let err = config(false, &["10.0.0.0/40"]).err().unwrap();
        assert!(err.to_string().starts_with("POSTDATE_ALLOW_DESTINATIONS: "), "{err}");
    }

    fn serve_with(token: &str) -> Result<Config, ConfigError> {
        let engine = EngineArgs {
            token: Some(token.into()),
            ..EngineArgs::default()
        };
        Config::from_args("127.0.0.1:0".into(), "sqlite://x.db".into(), engine, false)
    }

    #[test]
    fn log_response_bytes_defaults_to_4_kib_and_refuses_more_than_64_kib() {
        let with = |bytes| {
            let engine = EngineArgs {
                log_response_bytes: bytes,
                ..EngineArgs::default()
            };
            Config::from_args("127.0.0.1:0".into(), "sqlite://x.db".into(), engine, true)
        };
        assert_eq!(with(DEFAULT_LOG_RESPONSE_BYTES).unwrap().log_response_bytes, 4_096);
        assert_eq!(with(65_536).unwrap().log_response_bytes, 65_536);
        let err = with(65_537).err().unwrap();
        assert!(matches!(err, ConfigError::LogResponseBytes(65_537)));
        assert!(err.to_string().contains("at most 65536 bytes"), "{err}");
    }

    #[test]
    fn serve_refuses_the_public_dev_token_and_short_tokens() {
        assert!(matches!(serve_with(DEV_TOKEN), Err(ConfigError::PublicDevToken)));
        assert!(matches!(serve_with("fifteen-chars-x"), Err(ConfigError::ShortToken)));
        assert!(serve_with("sixteen-chars-xx").is_ok());
    }

    #[test]
    fn capacity_defaults_follow_the_open_file_limit_and_each_host_gets_half() {
        assert_eq!(default_max_in_flight(1_024), 512);
        assert_eq!(default_max_in_flight(4_096), 2_048);
        assert_eq!(default_max_in_flight(1_048_576), 4_096);
        let engine = EngineArgs {
            max_in_flight: Some(100),
            ..EngineArgs::default()
        };
        let config = Config::from_args("127.0.0.1:0".into(), "sqlite://x.db".into(), engine, true).unwrap();
        assert_eq!(config.max_in_flight, 100);
        assert_eq!(config.max_in_flight_per_host, 50);
        let engine = EngineArgs {
            max_in_flight: Some(100),
            max_in_flight_per_host: Some(1_000),
            ..EngineArgs::default()
        };
        let config = Config::from_args("127.0.0.1:0".into(), "sqlite://x.db".into(), engine, true).unwrap();
        assert_eq!(
            config.max_in_flight_per_host, 100,
            "a host's share is at most the whole"
        );
    }

    #[test]
    fn dev_keeps_accepting_any_token_and_checks_hosts() {
        let engine = EngineArgs {
            token: Some("short".into()),
            ..EngineArgs::default()
        };
        let config = Config::from_args("127.0.0.1:0".into(), "sqlite://x.db".into(), engine, true).unwrap();
        assert!(config.loopback_hosts_only);
        assert!(!serve_with("sixteen-chars-xx").unwrap().loopback_hosts_only);
    }
}
