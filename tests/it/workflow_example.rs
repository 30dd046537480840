//! The README's example app (examples/workflow/app.mjs, the official SDK in dev mode: `QSTASH_DEV=true`)
//! runs a whole workflow against the real `postdate dev` binary: steps, a parallel pair, a sleep, a wait
//! for an event that the app's own `/notify` sends, and its last step; and the run goes on when the server
//! is killed with `kill -9` in the middle of it and started again on its file.

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
        eventually(Duration::from_secs(60), what, || async {
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

/// `postdate dev` in `dir`, listening on `listen`; its base URL.
async fn start_dev(dir: &std::path::Path, listen: &str) -> (Running, String) {
    let mut dev = postdate();
    dev.args(["dev", "--listen", listen]).current_dir(dir);
    let dev = Running::start(dev);
    let base = dev
        .line_with("postdate dev prints its URL", |l| {
            l.strip_prefix("QSTASH_URL=").map(str::to_string)
        })
        .await;
    (dev, base)
}

/// The example app as a user has it, next to an installed SDK, in dev mode against the dev server on
/// `port`: the process, its base URL and its folder.
async fn start_example(sdk: &str, port: &str) -> (Running, String, tempfile::TempDir) {
    let app_dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/workflow/app.mjs");
    std::fs::copy(example, app_dir.path().join("app.mjs")).unwrap();
    std::os::unix::fs::symlink(format!("{sdk}/node_modules"), app_dir.path().join("node_modules")).unwrap();
    let mut node = Command::new("node");
    node.arg("app.mjs")
        .current_dir(app_dir.path())
        .env("QSTASH_DEV", "true")
        .env("QSTASH_DEV_PORT", port)
        .env("PORT", "0")
        .env_remove("QSTASH_URL")
        .env_remove("QSTASH_TOKEN");
    let app = Running::start(node);
    let app_port = app
        .line_with("the app listens", |l| l.strip_prefix("listening ").map(str::to_string))
        .await;
    (app, format!("http://127.0.0.1:{app_port}"), app_dir)
}

async fn json_of(request: reqwest::RequestBuilder) -> Option<serde_json::Value> {
    request.send().await.ok()?.json().await.ok()
}

/// Starts a run through the app (`client.trigger`); its id.
async fn start_run(http: &reqwest::Client, app_url: &str) -> String {
    let started = json_of(
        http.post(format!("{app_url}/start"))
            .body(r#"{"email":"ada@example.com"}"#),
    )
    .await
    .expect("the app answers JSON");
    started["workflowRunId"]
        .as_str()
        .expect("the trigger answers a run id")
        .to_string()
}

async fn expect_steps(app: &Running, run_id: &str, steps: &[&str]) {
    for step in steps {
        let wanted = format!("{run_id} {step}");
        app.line_with(&wanted, |l| (l == wanted).then(|| l.to_string())).await;
    }
}

/// After its sleep the run waits for its event: notifies until a waiter takes it, then waits for the last
/// step and the run's end; the route's result as the logs show it.
async fn finish_run(
    http: &reqwest::Client,
    app: &Running,
    app_url: &str,
    base: &str,
    run_id: &str,
) -> serde_json::Value {
    eventually(Duration::from_secs(60), "a notify resumes the waiting run", || async {
        let answer = json_of(http.post(format!("{app_url}/notify?user=ada"))).await?;
        (answer.as_array()?.len() == 1).then_some(())
    })
    .await;
    expect_steps(app, run_id, &["done ada: sent, added, confirmed=true"]).await;
    let logs = eventually(Duration::from_secs(10), "the run has ended", || async {
        let url = format!("{base}/v2/workflows/logs?workflowRunId={run_id}");
        let logs = json_of(http.get(url).bearer_auth(postdate::config::DEV_TOKEN)).await?;
        (logs["runs"][0]["workflowState"] == "RUN_SUCCESS").then_some(logs)
    })
    .await;
    serde_json::from_str(logs["runs"][0]["workflowRunResponse"].as_str().unwrap()).unwrap()
}

const BEFORE_THE_SLEEP: [&str; 3] = [
    "create-user ada@example.com",
    "send-welcome ada@example.com",
    "add-to-crm ada",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_app_runs_a_whole_workflow_against_postdate_dev() {
    let Some(sdk) = installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_dev, base) = start_dev(dir.path(), "127.0.0.1:0").await;
    let port = base.rsplit(':').next().unwrap().to_string();
    let (app, app_url, _app_dir) = start_example(&sdk, &port).await;
    let http = reqwest::Client::new();
    let run_id = start_run(&http, &app_url).await;
    expect_steps(&app, &run_id, &BEFORE_THE_SLEEP).await;
    let response = finish_run(&http, &app, &app_url, &base, &run_id).await;
    assert_eq!(response["summary"], "ada: sent, added, confirmed=true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_goes_on_after_postdate_dev_is_killed_in_the_middle_of_it() {
    let Some(sdk) = installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mut dev, base) = start_dev(dir.path(), "127.0.0.1:0").await;
    let port = base.rsplit(':').next().unwrap().to_string();
    let (app, app_url, _app_dir) = start_example(&sdk, &port).await;
    let http = reqwest::Client::new();
    let run_id = start_run(&http, &app_url).await;
    expect_steps(&app, &run_id, &BEFORE_THE_SLEEP).await;

    // In the middle of the run (its sleep stored or being stored, deliveries perhaps in flight): SIGKILL.
    dev.child.kill().unwrap();
    dev.child.wait().unwrap();
    drop(dev);
    let (_dev, base) = start_dev(dir.path(), &format!("127.0.0.1:{port}")).await;

    let response = finish_run(&http, &app, &app_url, &base, &run_id).await;
    assert_eq!(
        response["summary"], "ada: sent, added, confirmed=true",
        "the run ended as if nothing happened"
    );
}
