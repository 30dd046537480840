//! Test harness: a fresh database per test on either backend, the real app on port 0, and an in-process
//! receiver that records every request it gets.

pub mod conformance;
pub mod flaky;
pub mod proxy;
pub mod receiver;
pub mod sdk;
pub mod workflow_app;

use std::sync::Arc;
use std::time::Duration;

use postdate::app::App;
use postdate::clock::Clock;
use postdate::config::Config;
use postdate::domain::net_policy::DestinationPolicy;
use postdate::store::Store;
use postdate::worker::dispatcher::Dispatcher;
use postdate::worker::maintenance::Maintenance;
use postdate::worker::scheduler::Scheduler;
use tokio_util::sync::CancellationToken;

pub use conformance::ApiRequest;

/// Shaped like Upstash's tokens (base64 of `{"UserID":"postdate-test","Password":"0123456789"}`): the
/// Workflow SDK reads the user id out of the token to build webhook URLs.
pub const TOKEN: &str = "eyJVc2VySUQiOiJwb3N0ZGF0ZS10ZXN0IiwiUGFzc3dvcmQiOiIwMTIzNDU2Nzg5In0=";
/// 2026-01-01T00:00:00Z, where manual clocks start.
pub const T0: i64 = 1_767_225_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Postgres, unless no server was given: then the test is skipped loudly, or fails where Postgres is
    /// required (CI and `scripts/test` set POSTDATE_REQUIRE_POSTGRES=1).
    pub fn postgres() -> Option<Backend> {
        if std::env::var("POSTDATE_TEST_DATABASE_URL").is_ok() {
            return Some(Backend::Postgres);
        }
        if std::env::var("POSTDATE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("POSTDATE_REQUIRE_POSTGRES=1 but POSTDATE_TEST_DATABASE_URL is not set");
        }
        eprintln!("SKIPPED: Postgres half (POSTDATE_TEST_DATABASE_URL is not set; run ./scripts/test)");
        None
    }
}

/// A fresh, empty database. SQLite files live in a temporary folder removed on drop.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/postdate.db", dir.path().display());
                TestDb { url, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let admin = std::env::var("POSTDATE_TEST_DATABASE_URL").unwrap();
                let name = format!("postdate_test_{}", rand_suffix());
                let pool = sqlx::PgPool::connect(&admin)
                    .await
                    .expect("connect to the test Postgres");
                sqlx::query(&format!("create database {name}"))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&name);
                TestDb {
                    url: url.to_string(),
                    _dir: None,
                }
            }
        }
    }

    /// The same database reached through another URL (a relay or a connection pooler in front of it).
    pub fn through(&self, url: String) -> TestDb {
        TestDb { url, _dir: None }
    }

    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url, 8).await.unwrap();
        store.migrate().await.unwrap();
        store
    }
}

fn rand_suffix() -> String {
    let n: u64 = rand::random();
    format!("{n:016x}")
}

/// How a test wants its app.
#[derive(Clone)]
pub struct Options {
    /// `Some`: a manual clock, and no background loops (the test steps the engine).
    pub manual_clock: bool,
    pub configure: Arc<dyn Fn(&mut Config) + Send + Sync>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            manual_clock: false,
            configure: Arc::new(|_| {}),
        }
    }
}

impl Options {
    pub fn stepped() -> Options {
        Options {
            manual_clock: true,
            ..Options::default()
        }
    }

    pub fn with(mut self, f: impl Fn(&mut Config) + Send + Sync + 'static) -> Options {
        self.configure = Arc::new(f);
        self
    }
}

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub http: reqwest::Client,
    pub clock: Clock,
    pub dispatcher: Arc<Dispatcher>,
    pub maintenance: Arc<Maintenance>,
    pub scheduler: Arc<Scheduler>,
    pub bulk: Arc<postdate::worker::bulk::BulkWorker>,
    pub stats: Arc<postdate::worker::stats::StatsRefresher>,
    pub shutdown: CancellationToken,
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
    pub db: Arc<TestDb>,
}

pub fn config_for(db_url: &str, manual_clock: bool) -> Config {
    let mut config = Config::defaults("127.0.0.1:0".into(), db_url.into(), TOKEN.into());
    // The receivers run in-process on loopback, which the default (serve) policy refuses.
    config.destination_policy = DestinationPolicy::strict().allowing(&["127.0.0.0/8", "::1"]).unwrap();
    through_pgbouncer(&mut config);
    if manual_clock {
        config.clock = Clock::manual(T0);
        config.run_workers = false;
    }
    config.shutdown_timeout = Duration::from_secs(5);
    config
}

/// With POSTDATE_TEST_PGBOUNCER_URL (a PgBouncer in transaction mode in front of the test Postgres, which
/// `scripts/test` starts), apps reach their Postgres database through it in transaction-pooler mode, with
/// no direct URL for `LISTEN` (so they poll); the harness still creates databases directly.
fn through_pgbouncer(config: &mut Config) {
    let Ok(pooler) = std::env::var("POSTDATE_TEST_PGBOUNCER_URL") else {
        return;
    };
    if !config.database_url.starts_with("postgres") {
        return;
    }
    let pooler = url::Url::parse(&pooler).expect("POSTDATE_TEST_PGBOUNCER_URL is a URL");
    let mut url = url::Url::parse(&config.database_url).unwrap();
    url.set_host(pooler.host_str()).unwrap();
    url.set_port(pooler.port()).unwrap();
    config.database_url = url.to_string();
    config.transaction_pooler = true;
}

pub async fn spawn_app(backend: Backend, options: Options) -> TestApp {
    let db = Arc::new(TestDb::new(backend).await);
    spawn_app_on(db, options).await
}

/// Another app on an existing database (several instances sharing one Postgres).
pub async fn spawn_app_on(db: Arc<TestDb>, options: Options) -> TestApp {
    let mut config = config_for(&db.url, options.manual_clock);
    (options.configure)(&mut config);
    let clock = config.clock.clone();
    let app = App::build(config).await.expect("the app builds");
    let base = format!("http://{}", app.local_addr());
    let store = app.store();
    let dispatcher = app.dispatcher();
    let maintenance = app.maintenance();
    let scheduler = app.scheduler();
    let bulk = app.bulk();
    let stats = app.stats();
    let shutdown = app.shutdown_token();
    let handle = tokio::spawn(app.run());
    TestApp {
        base,
        store,
        http: reqwest::Client::new(),
        clock,
        dispatcher,
        maintenance,
        scheduler,
        bulk,
        stats,
        shutdown,
        handle,
        db,
    }
}

impl TestApp {
    /// A request to `path` with the bearer token; its answer is checked against the OpenAPI document.
    pub fn request(&self, method: reqwest::Method, path: &str) -> ApiRequest {
        ApiRequest::new(
            self.http
                .request(method, format!("{}{path}", self.base))
                .bearer_auth(TOKEN),
        )
    }

    /// A request to `path` without a token, checked like [`TestApp::request`].
    pub fn request_without_token(&self, method: reqwest::Method, path: &str) -> ApiRequest {
        ApiRequest::new(self.http.request(method, format!("{}{path}", self.base)))
    }

    pub fn publish(&self, destination: &str) -> ApiRequest {
        self.request(reqwest::Method::POST, &format!("/v2/publish/{destination}"))
    }

    /// Publishes and returns the message id, asserting 201.
    pub async fn publish_ok(&self, destination: &str, body: &str, headers: &[(&str, &str)]) -> String {
        let mut request = self.publish(destination).body(body.to_string());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status, 201, "publish failed: {json}");
        json["messageId"].as_str().unwrap().to_string()
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.request(reqwest::Method::GET, path).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    pub async fn send_json(&self, request: ApiRequest) -> (u16, serde_json::Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, json)
    }

    /// Sends `request` and asserts the answer is `status` with a JSON error mentioning `mentions`.
    pub async fn expect_error(&self, request: ApiRequest, status: u16, mentions: &str) {
        let (got, body) = self.send_json(request).await;
        assert_eq!(got, status, "{body}");
        let error = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message in {body}"));
        assert!(error.contains(mentions), "{error:?} should mention {mentions:?}");
    }

    /// The message as `GET /v2/messages/{id}` shows it.
    pub async fn message(&self, id: &str) -> serde_json::Value {
        let (status, json) = self.get_json(&format!("/v2/messages/{id}")).await;
        assert_eq!(status, 200, "{json}");
        json
    }

    /// Steps the engine until a step finds nothing due; returns attempts made.
    pub async fn run_until_idle(&self) -> usize {
        let mut total = 0;
        loop {
            let n = self.dispatcher.run_once().await.unwrap();
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.await.unwrap().unwrap();
    }
}

/// Generates one test per backend for each named `async fn name(backend: Backend)` in the calling module.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $crate::common::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}

/// Waits until `check` returns `Some`, polling every 10 ms, failing after `within`. For effects of the real
/// background engine, which a test cannot step.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl TestApp {
    /// Waits until the message reaches the QStash state `state` (e.g. "DELIVERED").
    pub async fn wait_for_state(&self, id: &str, state: &str) -> serde_json::Value {
        eventually(Duration::from_secs(10), &format!("{id} to become {state}"), || async {
            let message = self.message(id).await;
            (message["state"] == state).then_some(message)
        })
        .await
    }
}
