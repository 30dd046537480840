//! The official Python Workflow SDK (`upstash-workflow`, tests/workflow/py/app.py) runs the subset it
//! supports against Postdate: `context.run`, `context.sleep` and `context.call`, each step once, with
//! the SDK's Receiver checking every delivery's signature.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::workflow_app::{app, installed_as, run_state, run_to_end};
use crate::common::{Backend, TestApp, TOKEN};
use postdate::domain::workflow::RunState;

backend_tests!(a_python_workflow_runs_its_steps_sleeps_and_calls_once_each);

struct PyApp {
    child: Child,
    base: String,
    events: tempfile::NamedTempFile,
}

impl PyApp {
    async fn start(app: &TestApp, python: &str) -> PyApp {
        let (_, keys) = app.get_json("/v2/keys").await;
        let events = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/workflow/py/app.py"))
            .env("QSTASH_URL", &app.base)
            .env("QSTASH_TOKEN", TOKEN)
            .env("QSTASH_CURRENT_SIGNING_KEY", keys["current"].as_str().unwrap())
            .env("QSTASH_NEXT_SIGNING_KEY", keys["next"].as_str().unwrap())
            .env("WORKFLOW_EVENTS_FILE", events.path())
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python starts the workflow app");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the Python app did not start: {line:?}"))
            .to_string();
        PyApp {
            child,
            base: format!("http://127.0.0.1:{port}"),
            events,
        }
    }

    fn events(&self, kind: &str) -> Vec<Value> {
        std::fs::read_to_string(self.events.path())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|e| e["kind"] == kind)
            .collect()
    }
}

impl Drop for PyApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn a_python_workflow_runs_its_steps_sleeps_and_calls_once_each(backend: Backend) {
    let Some(python) = installed_as("POSTDATE_WORKFLOW_PY", "Python workflow SDK") else {
        return;
    };
    let app = app(backend).await;
    let py = PyApp::start(&app, &python).await;
    // A plain, signed delivery to the route starts the run (the SDK triggers it).
    let payload = json!({"input": "hi", "sleep": 5, "callUrl": format!("{}/third-party", py.base)});
    app.publish_ok(
        &format!("{}/wf/py", py.base),
        &payload.to_string(),
        &[("Content-Type", "application/json")],
    )
    .await;
    app.run_until_idle().await;
    let first = py.events("step");
    assert_eq!(first.len(), 1, "the first step ran, the sleep waits: {first:?}");
    let run_id = first[0]["runId"].as_str().unwrap().to_string();
    assert_eq!(first[0]["out"], "py:hi");
    app.clock.advance_ms(4_999);
    assert_eq!(app.run_until_idle().await, 0, "the sleep is not over");

    run_to_end(&app).await;
    let steps: Vec<Value> = py.events("step").iter().map(|e| e["name"].clone()).collect();
    assert_eq!(steps, [json!("first"), json!("last")], "each step once");
    let last = &py.events("step")[1]["out"];
    assert_eq!(last["status"], 200, "{last}");
    assert_eq!(
        last["body"],
        json!({"echo": {"from": "py:hi"}}),
        "the call's answer reached the run"
    );
    assert_eq!(py.events("result").len(), 1);
    assert_eq!(run_state(&app, &run_id).await, RunState::Success);
}
