//! The README's example app (examples/workflow/app.mjs, the official SDK in dev mode: `QSTASH_DEV=true`)
//! runs a whole workflow against the real `postdate dev` binary: steps, a parallel pair, a sleep, a wait
//! for an event that the app's own `/notify` sends, and its last step.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cli::postdate;
use crate::common::eventually;
use crate::common::workflow_app::installed;

/// A child process killed when the test ends, and the lines it has printed so far.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Running { child, lines }
    }

    async fn line_with(&self, what: &str, pick: impl Fn(&str) -> Option<String>) -> String {
        eventually(Duration::from_secs(30), what, || async {
            self.lines.lock().unwrap().iter().find_map(|l| pick(l))
        })
        .await
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_app_runs_a_whole_workflow_against_postdate_dev() {
    let Some(sdk) = installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut dev = postdate();
    dev.args(["dev", "--listen", "127.0.0.1:0"]).current_dir(dir.path());
    let dev = Running::start(dev);
    let base = dev
        .line_with("postdate dev prints its URL", |l| {
            l.strip_prefix("QSTASH_URL=").map(str::to_string)
        })
        .await;
    let port = base.rsplit(':').next().unwrap().to_string();

    // The example as a user has it, next to an installed SDK.
    let app_dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/workflow/app.mjs");
    std::fs::copy(example, app_dir.path().join("app.mjs")).unwrap();
    std::os::unix::fs::symlink(format!("{sdk}/node_modules"), app_dir.path().join("node_modules")).unwrap();
    let mut node = Command::new("node");
    node.arg("app.mjs")
        .current_dir(app_dir.path())
        .env("QSTASH_DEV", "true")
        .env("QSTASH_DEV_PORT", &port)
        .env("PORT", "0")
        .env_remove("QSTASH_URL")
        .env_remove("QSTASH_TOKEN");
    let app = Running::start(node);
    let app_port = app
        .line_with("the app listens", |l| l.strip_prefix("listening ").map(str::to_string))
        .await;
    let app_url = format!("http://127.0.0.1:{app_port}");

    let http = reqwest::Client::new();
    let started: serde_json::Value = http
        .post(format!("{app_url}/start"))
        .body(r#"{"email":"ada@example.com"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = started["workflowRunId"]
        .as_str()
        .expect("the trigger answers a run id")
        .to_string();
    for step in [
        "create-user ada@example.com",
        "send-welcome ada@example.com",
        "add-to-crm ada",
    ] {
        let wanted = format!("{run_id} {step}");
        app.line_with(&wanted, |l| (l == wanted).then(|| l.to_string())).await;
    }
    // After the sleep the run waits for its event: notify until a waiter takes it.
    eventually(Duration::from_secs(30), "a notify resumes the waiting run", || async {
        let answer: serde_json::Value = http
            .post(format!("{app_url}/notify?user=ada"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (answer.as_array()?.len() == 1).then_some(())
    })
    .await;
    let done = format!("{run_id} done ada: sent, added, confirmed=true");
    app.line_with("the last step", |l| (l == done).then(|| l.to_string()))
        .await;

    let logs: serde_json::Value = eventually(Duration::from_secs(10), "the run has ended", || async {
        let logs: serde_json::Value = http
            .get(format!("{base}/v2/workflows/logs?workflowRunId={run_id}"))
            .bearer_auth(postdate::config::DEV_TOKEN)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (logs["runs"][0]["workflowState"] == "RUN_SUCCESS").then_some(logs)
    })
    .await;
    let response: serde_json::Value =
        serde_json::from_str(logs["runs"][0]["workflowRunResponse"].as_str().unwrap()).unwrap();
    assert_eq!(response["summary"], "ada: sent, added, confirmed=true");
}
