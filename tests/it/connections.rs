//! Connections: clients that connect and send nothing, half a request head or half a body cannot take
//! the service down, make it refuse others, or keep it from shutting down. Only loopback is dialled, and
//! the number of connections is bounded.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backend_tests;
use crate::common::receiver::Receiver;
use crate::common::{spawn_app, Backend, Options, TestApp, TOKEN};

backend_tests!(
    idle_and_partial_clients_leave_the_api_and_deliveries_working_and_shutdown_bounded,
    clients_that_send_no_complete_head_are_closed_and_waiting_clients_then_get_in,
    a_body_that_does_not_arrive_in_time_gets_408_and_changes_nothing,
    an_idle_kept_alive_connection_is_closed_after_the_idle_timeout,
    deliveries_go_out_while_the_listener_is_saturated,
    dev_answers_only_requests_addressed_to_a_loopback_host,
);

/// Generous: what the bounded waits below allow before calling it a hang.
const HANG: Duration = Duration::from_secs(20);

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

async fn idle(app: &TestApp) -> TcpStream {
    TcpStream::connect(addr(app)).await.unwrap()
}

async fn partial_head(app: &TestApp) -> TcpStream {
    let mut stream = idle(app).await;
    stream
        .write_all(b"POST /v2/publish/http://127.0.0.1:9/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-")
        .await
        .unwrap();
    stream
}

async fn partial_body(app: &TestApp, destination: &str) -> TcpStream {
    let mut stream = idle(app).await;
    let head = format!(
        "POST /v2/publish/{destination} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: 100\r\n\r\nonly ten b"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(HANG, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the server closes the connection");
    String::from_utf8_lossy(&received).into_owned()
}

async fn health(app: &TestApp) -> u16 {
    let response = tokio::time::timeout(HANG, app.http.get(format!("{}/health", app.base)).send())
        .await
        .expect("the API answers")
        .unwrap();
    response.status().as_u16()
}

async fn idle_and_partial_clients_leave_the_api_and_deliveries_working_and_shutdown_bounded(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(
        backend,
        Options::default().with(|c| {
            // Long connection timeouts: the bad clients stay connected for the whole test.
            c.header_read_timeout = Duration::from_secs(300);
            c.body_read_timeout = Duration::from_secs(300);
            c.idle_timeout = Duration::from_secs(300);
            c.max_connections = Some(64);
            // Clients mid-request hold the server for the whole shutdown timeout; the later message
            // becomes due within it and must not be claimed.
            c.shutdown_timeout = Duration::from_millis(1500);
        }),
    )
    .await;
    let mut bad = Vec::new();
    for _ in 0..10 {
        bad.push(idle(&app).await);
        bad.push(partial_head(&app).await);
        bad.push(partial_body(&app, &receiver.url).await);
    }
    assert_eq!(health(&app).await, 200);
    let id = app.publish_ok(&receiver.url, "still delivered", &[]).await;
    let delivered = receiver.wait_for(1, HANG).await;
    assert_eq!(delivered[0].message_id(), id);
    let later = app
        .publish_ok(&receiver.url, "later", &[("Upstash-Delay", "500ms")])
        .await;

    let db = app.db.clone();
    let handle = app.handle;
    app.shutdown.cancel();
    tokio::time::timeout(HANG, handle)
        .await
        .expect("shutdown ends at the shutdown timeout even with clients mid-request")
        .unwrap()
        .unwrap();
    for stream in &mut bad {
        read_until_closed(stream).await;
    }
    let store = db.store().await;
    assert_eq!(
        store.message_get(&later).await.unwrap().unwrap().state,
        postdate::domain::state::MessageState::Pending,
        "nothing was claimed after the shutdown began"
    );
    assert_eq!(receiver.requests().len(), 1);
}

async fn clients_that_send_no_complete_head_are_closed_and_waiting_clients_then_get_in(backend: Backend) {
    let app = spawn_app(
        backend,
        Options::stepped().with(|c| {
            c.header_read_timeout = Duration::from_millis(300);
            c.max_connections = Some(4);
        }),
    )
    .await;
    let mut bad = vec![
        idle(&app).await,
        idle(&app).await,
        partial_head(&app).await,
        partial_head(&app).await,
    ];
    // Every slot is taken: this client waits in the backlog until the header timeout frees one.
    assert_eq!(health(&app).await, 200);
    for stream in &mut bad {
        let answer = read_until_closed(stream).await;
        assert!(!answer.contains("201"), "nothing was published: {answer}");
    }
    let (status, logs) = app.get_json("/v2/events").await;
    assert_eq!(status, 200);
    assert_eq!(logs["events"].as_array().map_or(0, Vec::len), 0, "{logs}");
    app.stop().await;
}

async fn a_body_that_does_not_arrive_in_time_gets_408_and_changes_nothing(backend: Backend) {
    let app = spawn_app(
        backend,
        Options::stepped().with(|c| c.body_read_timeout = Duration::from_millis(300)),
    )
    .await;
    let mut stream = partial_body(&app, "http://127.0.0.1:9/x").await;
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"the request body did not arrive within 300ms"}"#),
        "{answer}"
    );
    let (_, logs) = app.get_json("/v2/events").await;
    assert_eq!(logs["events"].as_array().map_or(0, Vec::len), 0, "{logs}");
    app.stop().await;
}

async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout(backend: Backend) {
    let app = spawn_app(
        backend,
        Options::stepped().with(|c| {
            c.header_read_timeout = Duration::from_secs(300);
            c.idle_timeout = Duration::from_millis(300);
        }),
    )
    .await;
    let mut stream = idle(&app).await;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    app.stop().await;
}

async fn deliveries_go_out_while_the_listener_is_saturated(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = spawn_app(
        backend,
        Options::stepped().with(|c| {
            c.header_read_timeout = Duration::from_secs(300);
            c.max_connections = Some(3);
        }),
    )
    .await;
    let id = app.publish_ok(&receiver.url, "x", &[("Upstash-Delay", "10s")]).await;
    let _bad = [idle(&app).await, partial_head(&app).await, idle(&app).await];
    app.clock.advance_ms(10_000);
    assert_eq!(app.dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(receiver.requests()[0].message_id(), id);
    let row = app.db.store().await.message_get(&id).await.unwrap().unwrap();
    assert_eq!(row.state, postdate::domain::state::MessageState::Delivered);
}

async fn dev_answers_only_requests_addressed_to_a_loopback_host(backend: Backend) {
    let app = spawn_app(backend, Options::stepped().with(|c| c.loopback_hosts_only = true)).await;
    let port = app.base.rsplit(':').next().unwrap().to_string();
    let publish = |host: &str| app.publish("http://127.0.0.1:9/x").header("host", host).body("x");
    let (status, json) = app.send_json(publish("evil.example")).await;
    assert_eq!(status, 421, "{json}");
    assert!(
        json["error"].as_str().unwrap().contains("Host header refused"),
        "{json}"
    );
    let (status, _) = app.send_json(publish(&format!("evil.example:{port}"))).await;
    assert_eq!(status, 421);
    let (_, logs) = app.get_json("/v2/events").await;
    assert_eq!(
        logs["events"].as_array().map_or(0, Vec::len),
        0,
        "nothing was published"
    );
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "app.localhost".to_string(),
    ] {
        let (status, json) = app.send_json(publish(&host)).await;
        assert_eq!(status, 201, "{host}: {json}");
    }

    let serve = spawn_app(backend, Options::stepped()).await;
    let (status, json) = serve
        .send_json(
            serve
                .publish("http://127.0.0.1:9/x")
                .header("host", "postdate.example")
                .body("x"),
        )
        .await;
    assert_eq!(status, 201, "serve answers any Host: {json}");
}
