//! Crash safety: a `kill -9` loses no accepted message; after a restart everything due is delivered, and
//! only the deliveries in flight at the crash arrive twice, with the same `Upstash-Message-Id`.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::backend_tests;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{eventually, Backend, TestDb, TOKEN};

backend_tests!(a_killed_process_loses_nothing_and_its_leased_messages_are_delivered_after_a_restart);

struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_server(database_url: &str) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_postdate"))
        .args([
            "serve",
            "--database-url",
            database_url,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("QSTASH_TOKEN", TOKEN)
        .env("POSTDATE_LEASE", "1s")
        .env("POSTDATE_POLL_INTERVAL", "100ms")
        // The receiver runs on loopback, which `serve` refuses by default.
        .env("POSTDATE_ALLOW_DESTINATIONS", "127.0.0.0/8")
        .env_remove("QSTASH_CURRENT_SIGNING_KEY")
        .env_remove("QSTASH_NEXT_SIGNING_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the postdate binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(20), "the server to answer /health", || async {
        http.get(format!("{base}/health"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await;
    Server { child, base }
}

async fn publish(http: &reqwest::Client, base: &str, url: &str, delay: &str) -> String {
    let response = http
        .post(format!("{base}/v2/publish/{url}"))
        .bearer_auth(TOKEN)
        .header("Upstash-Delay", delay)
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<serde_json::Value>().await.unwrap()["messageId"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn a_killed_process_loses_nothing_and_its_leased_messages_are_delivered_after_a_restart(backend: Backend) {
    let db = TestDb::new(backend).await;
    let receiver = Receiver::answering(|_| Reply::Hang).await;
    let http = reqwest::Client::new();
    let mut first = start_server(&db.url).await;

    let mut in_flight = Vec::new();
    for i in 0..10 {
        in_flight.push(publish(&http, &first.base, &format!("{}/now/{i}", receiver.url), "0s").await);
    }
    let mut delayed = Vec::new();
    for i in 0..5 {
        delayed.push(publish(&http, &first.base, &format!("{}/later/{i}", receiver.url), "800ms").await);
    }
    receiver.wait_for(10, Duration::from_secs(10)).await;
    first.child.kill().unwrap(); // SIGKILL: no shutdown code runs
    first.child.wait().unwrap();
    receiver.answer(|_| Reply::Status(200));

    let mut second = start_server(&db.url).await;
    let accepted: HashSet<String> = in_flight.iter().chain(&delayed).cloned().collect();
    let delivered: HashMap<String, String> = eventually(Duration::from_secs(20), "every message to arrive", || async {
        // Requests after the first ten are answered 200; the first ten hung until the crash.
        let answered: HashMap<String, String> = receiver.requests()[10..]
            .iter()
            .map(|r| {
                (
                    r.message_id().to_string(),
                    r.header("upstash-retried").unwrap().to_string(),
                )
            })
            .collect();
        answered
            .keys()
            .cloned()
            .collect::<HashSet<_>>()
            .is_superset(&accepted)
            .then_some(answered)
    })
    .await;
    for id in &in_flight {
        assert_ne!(
            delivered[id], "0",
            "the crashed attempt counts: the redelivery is a retry"
        );
    }
    for id in &delayed {
        assert_eq!(
            delivered[id], "0",
            "messages not yet due at the crash are delivered once"
        );
    }
    let arrivals_per_id = receiver
        .requests()
        .iter()
        .fold(HashMap::<String, usize>::new(), |mut m, r| {
            *m.entry(r.message_id().to_string()).or_default() += 1;
            m
        });
    for id in &delayed {
        assert_eq!(arrivals_per_id[id], 1);
    }
    for id in &accepted {
        let state = eventually(Duration::from_secs(10), "the message to be DELIVERED", || async {
            let m: serde_json::Value = http
                .get(format!("{}/v2/messages/{id}", second.base))
                .bearer_auth(TOKEN)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (m["state"] == "DELIVERED").then_some(m["state"].clone())
        })
        .await;
        assert_eq!(state, "DELIVERED");
    }
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}
