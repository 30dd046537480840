//! The command line: `dev`, `serve`, `migrate`, their flags and environment variables, and signals.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use postdate::config::{DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_TOKEN};

use crate::backend_tests;
use crate::common::{Backend, TestDb};

backend_tests!(migrate_applies_the_migrations_and_exits);

/// The binary with none of the developer's Postdate or QStash settings in its environment.
pub(crate) fn postdate() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_postdate"));
    for (name, _) in std::env::vars() {
        if name.starts_with("QSTASH_") || name.starts_with("POSTDATE_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command
}

async fn migrate_applies_the_migrations_and_exits(backend: Backend) {
    let db = TestDb::new(backend).await;
    let output = postdate()
        .args(["migrate", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
    let store = postdate::store::Store::connect(&db.url, 2).await.unwrap();
    assert!(
        store.signing_keys_get().await.unwrap().is_none(),
        "the tables exist and are empty"
    );
}

#[test]
fn serve_refuses_to_start_without_a_token_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/db.sqlite", dir.path().display());
    let output = postdate().args(["serve", "--database-url", &url]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("QSTASH_TOKEN is not set"), "{stderr}");
}

#[test]
fn serve_refuses_to_start_with_an_unreadable_allow_list_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/db.sqlite", dir.path().display());
    let output = postdate()
        .args([
            "serve",
            "--database-url",
            &url,
            "--allow-destinations",
            "127.0.0.0/8,10.0.0.0/99",
        ])
        .env("QSTASH_TOKEN", "a-token-long-enough-for-serve")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("POSTDATE_ALLOW_DESTINATIONS") && stderr.contains("10.0.0.0/99"),
        "{stderr}"
    );
}

#[test]
fn serve_requires_a_database_url() {
    let output = postdate().args(["serve"]).env("QSTASH_TOKEN", "t").output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--database-url"));
}

#[test]
fn every_flag_has_an_environment_variable_and_help_text() {
    for command in ["dev", "serve"] {
        let output = postdate().args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        let flags: Vec<&str> = help
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with("--") && !l.starts_with("--help"))
            .collect();
        assert!(flags.len() >= 15, "{help}");
        for var in [
            "POSTDATE_LISTEN",
            "DATABASE_URL",
            "QSTASH_TOKEN",
            "QSTASH_CURRENT_SIGNING_KEY",
            "POSTDATE_LEASE",
        ] {
            assert!(help.contains(&format!("[env: {var}")), "{command} --help lacks {var}");
        }
        let env_mentions = help.matches("[env: ").count();
        assert_eq!(
            env_mentions,
            flags.len(),
            "every flag of {command} names its variable:\n{help}"
        );
    }
}

#[tokio::test]
async fn dev_prints_ready_to_paste_settings_uses_the_dev_credentials_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = postdate()
        .args(["dev", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut settings = std::collections::HashMap::new();
    while settings.len() < 4 {
        let line = lines.next().expect("dev prints four settings").unwrap();
        if let Some((key, value)) = line.split_once('=').filter(|(k, _)| k.starts_with("QSTASH_")) {
            settings.insert(key.to_string(), value.to_string());
        }
    }
    assert_eq!(settings["QSTASH_TOKEN"], DEV_TOKEN);
    assert_eq!(settings["QSTASH_CURRENT_SIGNING_KEY"], DEV_CURRENT_SIGNING_KEY);
    assert_eq!(settings["QSTASH_NEXT_SIGNING_KEY"], DEV_NEXT_SIGNING_KEY);
    let keys: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/v2/keys", settings["QSTASH_URL"]))
        .bearer_auth(DEV_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        keys,
        serde_json::json!({"current": DEV_CURRENT_SIGNING_KEY, "next": DEV_NEXT_SIGNING_KEY})
    );
    assert!(
        dir.path().join(".postdate/dev.db").exists(),
        "the database is created under the working directory"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = tokio::task::spawn_blocking(move || child.wait().unwrap());
    let status = tokio::time::timeout(Duration::from_secs(20), exited)
        .await
        .expect("exits on SIGTERM")
        .unwrap();
    assert!(status.success(), "a graceful stop exits 0, got {status}");
}

#[test]
fn serve_refuses_the_public_dev_token_and_short_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/db.sqlite", dir.path().display());
    for (token, expected) in [
        (DEV_TOKEN, "public dev token"),
        ("fifteen-chars-x", "at least 16 characters"),
    ] {
        let output = postdate()
            .args(["serve", "--database-url", &url])
            .env("QSTASH_TOKEN", token)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains(token), "the refused token is not echoed: {stderr}");
    }
}

/// Sends SIGTERM and waits (bounded) for the process to exit; returns whether it exited 0.
pub(crate) async fn terminate(mut child: std::process::Child) -> bool {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = tokio::task::spawn_blocking(move || child.wait().unwrap());
    tokio::time::timeout(Duration::from_secs(20), exited)
        .await
        .expect("exits on SIGTERM")
        .unwrap()
        .success()
}

/// The `QSTASH_*` settings of the dev banner.
pub(crate) fn read_banner(stdout: impl std::io::Read) -> std::collections::HashMap<String, String> {
    let mut lines = BufReader::new(stdout).lines();
    let mut settings = std::collections::HashMap::new();
    while settings.len() < 4 {
        let line = lines.next().expect("dev prints four settings").unwrap();
        if let Some((key, value)) = line.split_once('=').filter(|(k, _)| k.starts_with("QSTASH_")) {
            settings.insert(key.to_string(), value.to_string());
        }
    }
    settings
}

#[tokio::test]
async fn logs_go_to_stderr_without_colours_and_the_banner_masks_a_custom_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = "my-own-secret-token-1234";
    let mut child = postdate()
        .args(["dev", "--listen", "127.0.0.1:0"])
        .env("QSTASH_TOKEN", token)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let settings = read_banner(stdout);
    assert!(!settings["QSTASH_TOKEN"].contains("secret"), "{settings:?}");
    assert!(settings["QSTASH_TOKEN"].starts_with("my-o****"), "{settings:?}");
    let status = reqwest::Client::new()
        .get(format!("{}/v2/keys", settings["QSTASH_URL"]))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "the custom token is the one in force");
    assert!(terminate(child).await);
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut logs).unwrap();
    assert!(logs.contains("postdate is listening"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "no ANSI escapes when stderr is not a terminal: {logs}"
    );
    assert!(!logs.contains(token), "{logs}");
}

#[tokio::test]
async fn sigterm_exits_within_the_shutdown_timeout_while_a_client_holds_a_request_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = postdate()
        .args(["dev", "--listen", "127.0.0.1:0", "--shutdown-timeout", "1s"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let settings = read_banner(child.stdout.take().unwrap());
    let addr = settings["QSTASH_URL"].trim_start_matches("http://").to_string();
    // Half a request body, and a connection that never sends anything: neither may hold the process.
    let mut half_open = std::net::TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /v2/publish/http://127.0.0.1:9/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {DEV_TOKEN}\r\n\
         Content-Length: 100\r\n\r\nonly ten b"
    );
    std::io::Write::write_all(&mut half_open, head.as_bytes()).unwrap();
    let _idle = std::net::TcpStream::connect(&addr).unwrap();
    // Accepts follow the backlog's order: once a later client is answered, both are being served.
    let health = reqwest::get(format!("{}/health", settings["QSTASH_URL"]))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(terminate(child).await, "a graceful stop exits 0");
}

#[tokio::test]
async fn dev_on_a_non_loopback_address_warns_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = postdate()
        .args(["dev", "--listen", "0.0.0.0:0"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    read_banner(child.stdout.take().unwrap());
    let stderr = child.stderr.take().unwrap();
    assert!(terminate(child).await);
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut logs).unwrap();
    assert!(
        logs.contains("WARNING: the dev server listens on a non-loopback address"),
        "{logs}"
    );
}
