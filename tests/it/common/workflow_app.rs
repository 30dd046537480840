//! A real workflow app around the official `@upstash/workflow` SDK's `serve()` (tests/workflow/js/server.mjs,
//! installed by scripts/test), pointed at a test app with its token and signing keys, so that the SDK's
//! own Receiver checks every delivery; and the SDK's `Client` (trigger.mjs) as a command.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use super::{spawn_app, Backend, Options, TestApp, TOKEN};
use postdate::clock::{system_now_ms, Clock};
use postdate::domain::workflow::RunState;

pub struct WorkflowApp {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    dir: String,
    env: Vec<(String, String)>,
    events: tempfile::NamedTempFile,
}

/// The installed SDK's folder, unless it is not installed: then the test is skipped loudly, or fails where
/// the SDKs are required (scripts/test).
pub fn installed() -> Option<String> {
    installed_as("POSTDATE_WORKFLOW_JS", "workflow SDK")
}

/// The value of `var` (where scripts/test put an SDK), or a loud skip, or a failure where SDKs are required.
pub fn installed_as(var: &str, what: &str) -> Option<String> {
    if let Ok(value) = std::env::var(var) {
        return Some(value);
    }
    if std::env::var("POSTDATE_REQUIRE_SDKS").as_deref() == Ok("1") {
        panic!("POSTDATE_REQUIRE_SDKS=1 but {var} is not set");
    }
    eprintln!("SKIPPED: {what} checks ({var} is not set; run ./scripts/test)");
    None
}

impl WorkflowApp {
    /// Starts the workflow app against `app`; `None` when the SDK is not installed.
    pub async fn start(app: &TestApp) -> Option<WorkflowApp> {
        let dir = installed()?;
        let (_, keys) = app.get_json("/v2/keys").await;
        let env = vec![
            ("QSTASH_URL".to_string(), app.base.clone()),
            ("QSTASH_TOKEN".to_string(), TOKEN.to_string()),
            (
                "QSTASH_CURRENT_SIGNING_KEY".to_string(),
                keys["current"].as_str().unwrap().to_string(),
            ),
            (
                "QSTASH_NEXT_SIGNING_KEY".to_string(),
                keys["next"].as_str().unwrap().to_string(),
            ),
        ];
        let events = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new("node")
            .arg(format!("{dir}/server.mjs"))
            .arg("0")
            .envs(env.iter().cloned())
            .env("WORKFLOW_EVENTS_FILE", events.path())
            .env_remove("QSTASH_DEV")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts the workflow app");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the workflow app did not start: {line:?}"));
        Some(WorkflowApp {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            env,
            events,
        })
    }

    pub fn url(&self, route: &str) -> String {
        format!("{}{route}", self.base)
    }

    /// Every event line the workflows wrote, in order.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.events.path())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The events of one run of `kind`.
    pub fn events_of(&self, run_id: &str, kind: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["runId"] == run_id && e["kind"] == kind)
            .collect()
    }

    /// The names of the steps the run executed, in order.
    pub fn steps(&self, run_id: &str) -> Vec<String> {
        self.events_of(run_id, "step")
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// Runs the SDK's `Client` (trigger.mjs): `(exit ok, its JSON answer)`.
    pub fn client(&self, command: &str, arg: &Value) -> (bool, Value) {
        // The SDK calls the app while this waits: let the runtime move the app's tasks elsewhere.
        let output = tokio::task::block_in_place(|| {
            Command::new("node")
                .arg(format!("{}/trigger.mjs", self.dir))
                .arg(command)
                .arg(arg.to_string())
                .envs(self.env.iter().cloned())
                .env_remove("QSTASH_DEV")
                .output()
        })
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let answer = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "trigger.mjs {command} printed no JSON ({e}): {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.success(), answer)
    }

    /// `client.trigger(arg)`: the new run's id.
    pub fn trigger(&self, arg: Value) -> String {
        let (ok, answer) = self.client("trigger", &arg);
        assert!(ok, "trigger failed: {answer}");
        answer["workflowRunId"].as_str().unwrap().to_string()
    }
}

impl Drop for WorkflowApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stepped app whose manual clock starts at the real time: the SDK computes `sleepUntil` from its own
/// clock.
pub async fn app(backend: Backend) -> TestApp {
    let now = system_now_ms();
    spawn_app(backend, Options::stepped().with(move |c| c.clock = Clock::manual(now))).await
}

/// Delivers everything, moving the clock to each next due time (retry backoff, sleeps) until nothing
/// waits; returns the attempts made.
pub async fn run_to_end(app: &TestApp) -> usize {
    let mut attempts = 0;
    for _ in 0..100 {
        attempts += app.run_until_idle().await;
        match app.store.message_next_due_at(app.clock.now_ms()).await.unwrap() {
            Some(due) => app.clock.set_ms(due),
            None => return attempts,
        }
    }
    panic!("the run did not settle within 100 rounds");
}

pub async fn run_state(app: &TestApp, run_id: &str) -> RunState {
    app.store
        .workflow_run_get(run_id)
        .await
        .unwrap()
        .expect("the run exists")
        .state
}
