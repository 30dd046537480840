//! The command-line client: the real `postdate` binary against a running app, checking its tables and its
//! `--json` documents (decoded into the API's own wire types), its exit codes and its help.

use std::process::{Output, Stdio};
use std::time::Duration;

use postdate::wire::{
    BulkAction, BulkActionAccepted, BulkActionPage, BulkState, Cancelled, Deleted, DlqMessage, DlqPage, Empty,
    LogEntry, LogPage, Message, MessagePage, PublishAnswer, Queue, RerunRuns, Retried, RunEnded, RunsCanceled,
    Schedule, ScheduleCreated, SigningKeys, UrlGroup, WorkflowRunLogs,
};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::ChildStdout;

use crate::backend_tests;
use crate::cli::postdate;
use crate::common::receiver::{Receiver, Reply};
use crate::common::workflow_app::{self, WorkflowApp};
use crate::common::{spawn_app, Backend, Options, TestApp, TOKEN};

backend_tests!(
    a_published_message_shows_in_messages_ls_and_get_until_it_is_cancelled,
    a_failed_delivery_is_listed_shown_retried_and_removed_in_the_dlq,
    schedules_are_added_listed_paused_resumed_and_removed,
    url_groups_are_filled_listed_and_emptied,
    queues_are_listed_paused_and_resumed,
    an_async_cancel_is_listed_and_shown_in_bulk_actions_with_its_progress,
    keys_are_shown_and_rotated,
    logs_list_entries_and_follow_prints_entries_written_after_it_started,
    an_api_error_exits_1_with_the_servers_message,
    workflow_runs_are_listed_shown_and_canceled,
    a_failed_workflow_run_is_resumed_and_restarted_from_the_dlq,
);

/// The client binary pointed at `app` through the SDKs' environment variables.
struct Client<'a> {
    app: &'a TestApp,
}

impl Client<'_> {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command: tokio::process::Command = postdate().into();
        command
            .args(args)
            .env("QSTASH_URL", &self.app.base)
            .env("QSTASH_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    /// Stdout of a command that must succeed.
    async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "postdate {args:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// The `--json` document of a command that must succeed, decoded as `T`.
    async fn json<T: DeserializeOwned>(&self, args: &[&str]) -> T {
        let stdout = self.ok(&[args, &["--json"]].concat()).await;
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("postdate {args:?} --json: {e}: {stdout}"))
    }
}

async fn a_published_message_shows_in_messages_ls_and_get_until_it_is_cancelled(backend: Backend) {
    let receiver = Receiver::start().await;
    // The real clock: the table says how far away the delivery is.
    let app = spawn_app(backend, Options::default()).await;
    let cli = Client { app: &app };
    let url = format!("{}/hook", receiver.url);
    let stdout = cli
        .ok(&[
            "publish",
            &url,
            "-d",
            r#"{"a":1}"#,
            "-H",
            "Content-Type: application/json",
            "-H",
            "X-Trace: t1",
            "--delay",
            "10m",
            "--retries",
            "2",
            "--label",
            "billing",
            "--method",
            "PUT",
        ])
        .await;
    let id = stdout.trim();
    assert!(
        id.starts_with("msg_"),
        "publish prints the message id alone: {stdout:?}"
    );

    let page: MessagePage = cli.json(&["messages", "ls"]).await;
    assert_eq!(page.messages.len(), 1);
    let listed = &page.messages[0];
    assert_eq!(listed.message_id, id);
    assert_eq!((listed.method.as_str(), listed.max_retries), ("PUT", 2));
    assert_eq!(listed.labels.all, ["billing"]);
    assert_eq!(listed.header["X-Trace"], ["t1"]);
    assert_eq!(listed.body.body.as_deref(), Some(r#"{"a":1}"#));

    let table = cli.ok(&["messages", "ls", "--label", "billing"]).await;
    let row = table
        .lines()
        .find(|line| line.contains(id))
        .expect("the message has a row");
    assert!(row.contains("CREATED") && row.contains(&url), "{table}");
    assert!(row.contains("in 10 min"), "due in ten minutes: {table}");
    assert!(table.starts_with("ID"), "a header row first: {table}");
    let none = cli.ok(&["messages", "ls", "--label", "other"]).await;
    assert_eq!(none.trim(), "no messages");

    let shown: Message = cli.json(&["messages", "get", id]).await;
    assert_eq!(&shown, listed);
    let details = cli.ok(&["messages", "get", id]).await;
    assert!(
        details.contains("CREATED") && details.contains("X-Trace: t1"),
        "{details}"
    );

    assert_eq!(
        cli.ok(&["messages", "cancel", id]).await.trim(),
        "cancelled 1 message(s)"
    );
    let cancelled: Message = cli.json(&["messages", "get", id]).await;
    assert_eq!(serde_json::to_value(cancelled.state).unwrap(), "CANCELED");

    // --all cancels every waiting message; filters given with it narrow it.
    let kept = match cli.json(&["publish", &url, "--delay", "1h", "--label", "keep"]).await {
        PublishAnswer::Url(published) => published.message_id,
        PublishAnswer::UrlGroup(many) => panic!("a URL publish answers one message: {many:?}"),
    };
    cli.ok(&["publish", &url, "--delay", "1h", "--label", "drop"]).await;
    let dropped: Cancelled = cli.json(&["messages", "cancel", "--all", "--label", "drop"]).await;
    assert_eq!(dropped.cancelled, 1);
    let kept: Message = cli.json(&["messages", "get", &kept]).await;
    assert_eq!(serde_json::to_value(kept.state).unwrap(), "CREATED");
    let rest: Cancelled = cli.json(&["messages", "cancel", "--all"]).await;
    assert_eq!(rest.cancelled, 1);
    assert!(receiver.requests().is_empty(), "nothing was delivered");
    app.stop().await;
}

async fn a_failed_delivery_is_listed_shown_retried_and_removed_in_the_dlq(backend: Backend) {
    // Fails every request until the test makes it answer 200.
    let receiver = Receiver::answering(|_| Reply::Full {
        status: 500,
        headers: vec![],
        body: b"boom".to_vec(),
    })
    .await;
    let app = spawn_app(backend, Options::stepped()).await;
    let cli = Client { app: &app };
    let mut ids = Vec::new();
    for path in ["a", "b", "c"] {
        let url = format!("{}/{path}", receiver.url);
        ids.push(
            cli.ok(&["publish", &url, "--retries", "0", "-d", path])
                .await
                .trim()
                .to_string(),
        );
        assert_eq!(app.run_until_idle().await, 1);
        // DLQ ids follow the failure time.
        app.clock.advance_ms(1_000);
    }

    let page: DlqPage = cli.json(&["dlq", "ls"]).await;
    let listed: Vec<&str> = page.messages.iter().map(|e| e.message.message_id.as_str()).collect();
    assert_eq!(listed, ids);
    assert!(page.messages.iter().all(|e| e.response_status == 500));
    let dlq_ids: Vec<String> = page.messages.iter().map(|e| e.dlq_id.clone()).collect();
    let table = cli.ok(&["dlq", "ls", "--url", &format!("{}/a", receiver.url)]).await;
    assert_eq!(table.lines().count(), 2, "a header and the one entry to /a: {table}");
    assert!(table.contains(&dlq_ids[0]) && table.contains(" 500 "), "{table}");

    let shown = cli.ok(&["dlq", "show", &dlq_ids[0]]).await;
    assert!(
        shown.contains("response status") && shown.contains("500") && shown.contains("boom"),
        "{shown}"
    );
    let entry: DlqMessage = cli.json(&["dlq", "show", &dlq_ids[0]]).await;
    assert_eq!(&entry, &page.messages[0]);
    assert_eq!(entry.response_body.as_deref(), Some("boom"));

    receiver.answer(|_| Reply::Status(200));
    let retried: Retried = cli.json(&["dlq", "retry", &dlq_ids[0]]).await;
    assert_eq!(retried.responses.len(), 1);
    let removed: Deleted = cli.json(&["dlq", "rm", &dlq_ids[1]]).await;
    assert_eq!(removed.deleted, 1);
    let left: DlqPage = cli.json(&["dlq", "ls"]).await;
    assert_eq!(left.messages.len(), 1, "one retried, one removed");
    let again = cli.run(&["dlq", "rm", &dlq_ids[1]]).await;
    assert_eq!(again.status.code(), Some(1), "removing it again is an API error");

    let all = cli.ok(&["dlq", "retry", "--all", "--response-status", "500"]).await;
    assert!(all.starts_with("retried 1 DLQ entry as new messages"), "{all}");
    assert_eq!(app.run_until_idle().await, 2, "both retried messages are delivered");
    let empty = cli.ok(&["dlq", "ls"]).await;
    assert_eq!(empty.trim(), "the DLQ is empty");
    let retried_id = &retried.responses[0].message_id;
    let delivered: Message = cli.json(&["messages", "get", retried_id]).await;
    assert_eq!(serde_json::to_value(delivered.state).unwrap(), "DELIVERED");
    app.stop().await;
}

async fn schedules_are_added_listed_paused_resumed_and_removed(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let cli = Client { app: &app };
    let url = format!("{}/nightly", receiver.url);
    let id = cli
        .ok(&[
            "schedules",
            "add",
            &url,
            "--cron",
            "0 4 * * *",
            "--id",
            "nightly",
            "-d",
            "job",
            "--retries",
            "1",
        ])
        .await;
    assert_eq!(id.trim(), "nightly");

    let listed: Vec<Schedule> = cli.json(&["schedules", "ls"]).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].cron.as_str(), listed[0].destination.as_str()),
        ("0 4 * * *", url.as_str())
    );
    assert_eq!((listed[0].retries, listed[0].body.body.as_deref()), (1, Some("job")));
    let table = cli.ok(&["schedules", "ls"]).await;
    assert!(
        table.contains("nightly") && table.contains("0 4 * * *") && table.contains("active"),
        "{table}"
    );

    let paused: Schedule = cli.json(&["schedules", "pause", "nightly"]).await;
    assert!(paused.is_paused);
    assert!(cli.ok(&["schedules", "ls"]).await.contains("paused"));
    let text = cli.ok(&["schedules", "pause", "nightly"]).await;
    assert_eq!(text.trim(), "paused schedule nightly");
    assert_eq!(
        cli.ok(&["schedules", "resume", "nightly"]).await.trim(),
        "resumed schedule nightly"
    );
    let shown: Schedule = cli.json(&["schedules", "show", "nightly"]).await;
    assert!(!shown.is_paused && shown.next_schedule_time.is_some());
    assert!(cli.ok(&["schedules", "show", "nightly"]).await.contains("0 4 * * *"));

    assert_eq!(
        cli.ok(&["schedules", "rm", "nightly"]).await.trim(),
        "removed schedule nightly"
    );
    let gone = cli.run(&["schedules", "show", "nightly"]).await;
    assert_eq!(gone.status.code(), Some(1));
    let empty: Vec<Schedule> = cli.json(&["schedules", "ls"]).await;
    assert!(empty.is_empty());
    let added: ScheduleCreated = cli
        .json(&["schedules", "add", &url, "--cron", "* * * * *", "--id", "again"])
        .await;
    assert_eq!(added.schedule_id, "again");
    let removed: Empty = cli.json(&["schedules", "rm", "again"]).await;
    assert_eq!(removed, Empty {});
    app.stop().await;
}

async fn url_groups_are_filled_listed_and_emptied(backend: Backend) {
    let (a, b) = (Receiver::start().await, Receiver::start().await);
    let app = spawn_app(backend, Options::stepped()).await;
    let cli = Client { app: &app };
    let group: UrlGroup = cli.json(&["groups", "add", "orders", &a.url, &b.url]).await;
    let urls: Vec<&str> = group.endpoints.iter().map(|e| e.url.as_str()).collect();
    assert_eq!(group.name, "orders");
    assert_eq!(urls.len(), 2);

    let published = cli.ok(&["publish", "orders", "-d", "fan out"]).await;
    assert_eq!(published.lines().count(), 2, "one message id per endpoint: {published}");
    assert_eq!(app.run_until_idle().await, 2);
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));

    let removed = cli.ok(&["groups", "rm", "orders", urls[1]]).await;
    assert_eq!(removed.trim(), "removed 1 endpoint(s) from URL group orders");
    let listed: Vec<UrlGroup> = cli.json(&["groups", "ls"]).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].endpoints.len(), 1);
    let table = cli.ok(&["groups", "ls"]).await;
    assert!(
        table.contains("orders") && table.contains(urls[0]) && !table.contains(urls[1]),
        "{table}"
    );

    assert_eq!(
        cli.ok(&["groups", "rm", "orders"]).await.trim(),
        "removed URL group orders"
    );
    assert_eq!(cli.ok(&["groups", "ls"]).await.trim(), "no URL groups");
    let table = cli.ok(&["groups", "add", "solo", &a.url]).await;
    assert!(
        table.starts_with("NAME") && table.contains("solo") && table.contains(&a.url),
        "{table}"
    );
    app.stop().await;
}

async fn queues_are_listed_paused_and_resumed(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let cli = Client { app: &app };
    let id = cli
        .ok(&["publish", &receiver.url, "--queue", "orders", "-d", "first"])
        .await;
    assert!(id.trim().starts_with("msg_"));

    let paused: Queue = cli.json(&["queues", "pause", "orders"]).await;
    assert!(paused.paused);
    assert_eq!(app.run_until_idle().await, 0, "a paused queue delivers nothing");
    let table = cli.ok(&["queues", "ls"]).await;
    let row = table
        .lines()
        .find(|l| l.starts_with("orders"))
        .expect("a row for the queue");
    assert!(row.contains("paused"), "{table}");

    let text = cli.ok(&["queues", "pause", "orders"]).await;
    assert_eq!(text.trim(), "paused queue orders");
    assert_eq!(
        cli.ok(&["queues", "resume", "orders"]).await.trim(),
        "resumed queue orders"
    );
    assert_eq!(app.run_until_idle().await, 1);
    let queues: Vec<Queue> = cli.json(&["queues", "ls"]).await;
    assert_eq!(
        (queues[0].name.as_str(), queues[0].paused, queues[0].lag),
        ("orders", false, 0)
    );
    app.stop().await;
}

async fn an_async_cancel_is_listed_and_shown_in_bulk_actions_with_its_progress(backend: Backend) {
    // Stepped: no background loop, so the test runs the bulk worker itself.
    let app = spawn_app(backend, Options::stepped()).await;
    let cli = Client { app: &app };
    let empty = cli.ok(&["bulk-actions", "ls"]).await;
    assert_eq!(empty.trim(), "no bulk actions");
    for _ in 0..3 {
        cli.ok(&[
            "publish",
            "http://127.0.0.1:9/hook",
            "--delay",
            "10m",
            "--label",
            "nightly",
        ])
        .await;
    }
    let accepted: BulkActionAccepted = cli
        .json(&["messages", "cancel", "--all", "--label", "nightly", "--async"])
        .await;
    let id = accepted.action_id.as_str();
    let waiting: BulkAction = cli.json(&["bulk-actions", "show", id]).await;
    assert_eq!(waiting.total, None);
    let text = cli.ok(&["bulk-actions", "show", id]).await;
    assert!(text.contains("0/?"), "not counted yet: {text}");
    while app.bulk.run_once().await.unwrap() != postdate::worker::bulk::Stepped::Idle {}

    let shown: BulkAction = cli.json(&["bulk-actions", "show", id]).await;
    assert_eq!(
        (shown.state, shown.processed, shown.total),
        (BulkState::Finished, 3, Some(3))
    );
    assert_eq!(shown.filter.label, ["nightly"]);
    let text = cli.ok(&["bulk-actions", "show", id]).await;
    for expected in [id, "CANCEL", "FINISHED", "3/3", "label=nightly", "completed"] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }

    let page: BulkActionPage = cli.json(&["bulk-actions", "ls"]).await;
    assert_eq!(page.actions, [shown]);
    let table = cli.ok(&["bulk-actions", "ls"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one action: {table}");
    for expected in ["ID", "PROGRESS", "FILTER"] {
        assert!(lines[0].contains(expected), "{table}");
    }
    for expected in [id, "CANCEL", "FINISHED", "3/3", "label=nightly"] {
        assert!(lines[1].contains(expected), "{expected:?} in {table}");
    }

    let missing = cli.run(&["bulk-actions", "show", "act_nope"]).await;
    assert_eq!(missing.status.code(), Some(1));
}

async fn keys_are_shown_and_rotated(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let cli = Client { app: &app };
    let before: SigningKeys = cli.json(&["keys"]).await;
    let table = cli.ok(&["keys"]).await;
    assert!(
        table.contains(&format!("QSTASH_CURRENT_SIGNING_KEY={}", before.current)),
        "{table}"
    );
    let after: SigningKeys = cli.json(&["keys", "--rotate"]).await;
    assert_eq!(after.current, before.next, "the next key becomes current");
    assert_ne!(after.next, before.next);
    let rotated = cli.ok(&["keys", "--rotate"]).await;
    assert!(
        rotated.contains(&format!("QSTASH_CURRENT_SIGNING_KEY={}", after.next)),
        "{rotated}"
    );
    app.stop().await;
}

async fn logs_list_entries_and_follow_prints_entries_written_after_it_started(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(backend, Options::stepped()).await;
    let cli = Client { app: &app };
    let first = cli
        .ok(&["publish", &receiver.url, "-d", "one"])
        .await
        .trim()
        .to_string();
    let page: LogPage = cli.json(&["logs"]).await;
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].message_id, first);
    let table = cli.ok(&["logs", "--message-id", &first]).await;
    assert!(table.contains(&first) && table.contains("CREATED"), "{table}");

    let mut follower = cli
        .command(&["logs", "--follow", "--json", "--interval", "50ms"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    // The existing entry first (so the follower is running), then those written after it started.
    assert_eq!(next_entry(&mut lines).await.message_id, first);
    let second = app.publish_ok(&receiver.url, "two", &[]).await;
    let created = next_entry(&mut lines).await;
    assert_eq!(
        (
            created.message_id.as_str(),
            serde_json::to_value(created.state).unwrap()
        ),
        (second.as_str(), "CREATED".into())
    );
    assert_eq!(app.run_until_idle().await, 2);
    let mut states = Vec::new();
    for _ in 0..4 {
        let entry = next_entry(&mut lines).await;
        states.push(format!(
            "{} {}",
            entry.message_id,
            serde_json::to_value(entry.state).unwrap()
        ));
    }
    for id in [&first, &second] {
        for state in ["ACTIVE", "DELIVERED"] {
            assert!(states.contains(&format!("{id} \"{state}\"")), "{states:?}");
        }
    }
    follower.kill().await.unwrap();

    // Without --json, one line per entry: time, state, message id, URL.
    let mut follower = cli
        .command(&["logs", "--follow", "--message-id", &second])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        line.contains(" CREATED ") && line.contains(&second) && line.contains(&receiver.url),
        "{line}"
    );
    follower.kill().await.unwrap();
    app.stop().await;
}

/// The next line the follower prints, as a log entry; fails when none comes within 10 s.
async fn next_entry(lines: &mut Lines<BufReader<ChildStdout>>) -> LogEntry {
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the follower prints within 10 s")
        .unwrap()
        .expect("the follower keeps running");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

async fn an_api_error_exits_1_with_the_servers_message(backend: Backend) {
    let app = spawn_app(backend, Options::stepped()).await;
    let cli = Client { app: &app };
    let missing = cli.run(&["messages", "get", "msg_missing"]).await;
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("message \"msg_missing\" not found") && stderr.contains("404"),
        "{stderr}"
    );
    assert!(missing.stdout.is_empty());

    let invalid = cli.run(&["publish", "not a url"]).await;
    assert_eq!(
        invalid.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&invalid.stderr)
    );

    let mut wrong_token = cli.command(&["queues", "ls"]);
    wrong_token.env("QSTASH_TOKEN", "wrong");
    let output = wrong_token.output().await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid token"));
    app.stop().await;
}

#[test]
fn an_unreachable_server_exits_1_and_says_where_it_looked() {
    let output = postdate()
        .args(["queues", "ls", "--server", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("GET /v2/queues") && stderr.contains("is Postdate running"),
        "{stderr}"
    );
}

#[test]
fn bad_usage_exits_2_before_calling_the_server() {
    // Port 9 (discard) is never dialled: every one of these fails while parsing the command line.
    for args in [
        &["messages", "cancel"][..],
        &["messages", "cancel", "msg_1", "--all"],
        &["messages", "cancel", "msg_1", "--label", "x"],
        &["publish"],
        &["publish", "http://x", "-H", "no colon"],
        &["messages", "ls", "--from", "yesterday"],
        &["dlq", "retry"],
        &["schedules", "add", "http://x"],
        &["logs", "--follow", "--cursor", "5"],
        &["queues", "frobnicate"],
    ] {
        let output = postdate()
            .args(args)
            .args(["--server", "http://127.0.0.1:9"])
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "postdate {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn every_client_command_shows_an_example_in_its_help() {
    let commands: &[&[&str]] = &[
        &["publish"],
        &["messages"],
        &["messages", "ls"],
        &["messages", "get"],
        &["messages", "cancel"],
        &["bulk-actions"],
        &["bulk-actions", "ls"],
        &["bulk-actions", "show"],
        &["dlq"],
        &["dlq", "ls"],
        &["dlq", "show"],
        &["dlq", "retry"],
        &["dlq", "rm"],
        &["schedules"],
        &["schedules", "ls"],
        &["schedules", "add"],
        &["schedules", "show"],
        &["schedules", "pause"],
        &["schedules", "resume"],
        &["schedules", "rm"],
        &["logs"],
        &["groups"],
        &["groups", "ls"],
        &["groups", "add"],
        &["groups", "rm"],
        &["queues"],
        &["queues", "ls"],
        &["queues", "pause"],
        &["queues", "resume"],
        &["keys"],
    ];
    for command in commands {
        let output = postdate().args(*command).arg("--help").output().unwrap();
        assert!(output.status.success(), "{command:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(
            help.contains("Example") && help.contains("  postdate "),
            "{command:?}: {help}"
        );
        assert!(
            help.contains("QSTASH_URL") && help.contains("--json"),
            "{command:?}: {help}"
        );
    }
}

async fn workflow_runs_are_listed_shown_and_canceled(backend: Backend) {
    let app = workflow_app::app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let cli = Client { app: &app };
    let sleep = |label: &str| serde_json::json!({"url": wf.url("/wf/sleep"), "body": {"sleep": "1h"}, "label": label});
    let first = wf.trigger(sleep("nightly"));
    app.clock.advance_ms(1);
    let second = wf.trigger(sleep("weekly"));
    app.run_until_idle().await;

    let page: WorkflowRunLogs = cli.json(&["workflows", "ls", "--state", "RUN_STARTED"]).await;
    let ids: Vec<&str> = page.runs.iter().map(|r| r.workflow_run_id.as_str()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "newest first");
    let table = cli.ok(&["workflows", "ls"]).await;
    assert!(table.contains(&first) && table.contains("RUN_STARTED"), "{table}");
    let shown = cli.ok(&["workflows", "show", &first]).await;
    assert!(
        shown.contains("start") && shown.contains("STEP_PROGRESS"),
        "its step and the sleeping one: {shown}"
    );

    let ended: RunEnded = cli.json(&["workflows", "cancel", &first]).await;
    assert_eq!(ended.workflow_state.as_deref(), Some("RUN_CANCELED"));
    let canceled: RunsCanceled = cli.json(&["workflows", "cancel", "--label", "weekly"]).await;
    assert_eq!(canceled.cancelled, 1);
    let canceled: RunsCanceled = cli.json(&["workflows", "cancel", "--all"]).await;
    assert_eq!(canceled.cancelled, 0, "nothing is left to cancel");

    let bare = cli.run(&["workflows", "cancel"]).await;
    assert_eq!(
        bare.status.code(),
        Some(2),
        "a cancel that names nothing is a usage error"
    );
    let missing = cli.run(&["workflows", "show", "wfr_none"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no workflow run"));
}

async fn a_failed_workflow_run_is_resumed_and_restarted_from_the_dlq(backend: Backend) {
    let app = workflow_app::app(backend).await;
    let Some(wf) = WorkflowApp::start(&app).await else {
        return;
    };
    let cli = Client { app: &app };
    let mut dlq_ids = Vec::new();
    for _ in 0..2 {
        let run = wf.trigger(serde_json::json!({"url": wf.url("/wf/flaky"), "body": {}, "retries": 0}));
        workflow_app::run_to_end(&app).await;
        let page: DlqPage = cli.json(&["dlq", "ls"]).await;
        let entry = page
            .messages
            .iter()
            .find(|m| m.workflow_run_id.as_deref() == Some(run.as_str()))
            .unwrap();
        dlq_ids.push(entry.dlq_id.clone());
    }
    reqwest::Client::new()
        .post(wf.url("/control/heal"))
        .send()
        .await
        .unwrap();

    let resumed: RerunRuns = cli.json(&["dlq", "resume", &dlq_ids[0], "--retries", "2"]).await;
    let restarted = cli.ok(&["dlq", "restart", &dlq_ids[1]]).await;
    let restarted = restarted
        .trim()
        .strip_prefix("started ")
        .expect("the new run's id")
        .to_string();
    workflow_app::run_to_end(&app).await;
    assert_eq!(wf.steps(&resumed.workflow_runs[0].workflow_run_id), ["fragile"]);
    assert_eq!(wf.steps(&restarted), ["before", "fragile"]);
    let gone = cli.run(&["dlq", "resume", &dlq_ids[0]]).await;
    assert_eq!(gone.status.code(), Some(1), "a taken entry is gone");
}
