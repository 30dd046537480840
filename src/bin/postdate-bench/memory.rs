//! Peak server memory after the largest requests the default limits admit: one `/v2/batch` of
//! `--max-batch-items` items filling `--max-batch-bytes`, then one publish of a body of
//! `--max-body-bytes` to a URL group of `--max-group-endpoints` endpoints (the largest fan-out). Every
//! message is due far in the future, so nothing is delivered and only accepting is measured.

use serde_json::{json, Value};

use super::client::Client;
use super::memory_mib;

pub async fn largest_requests(
    client: &Client,
    server_pid: Option<u32>,
    batch_items: usize,
    batch_bytes: usize,
    group_endpoints: usize,
    body_bytes: usize,
) -> Value {
    let memory = || server_pid.and_then(memory_mib).unwrap_or(Value::Null);
    let before = memory();

    // Each item's JSON costs ~120 bytes beside its body.
    let item_body = "b".repeat((batch_bytes / batch_items).saturating_sub(160));
    let items: Vec<Value> = (0..batch_items)
        .map(|_| json!({"destination": client.hook, "headers": {"Upstash-Delay": "300d"}, "body": item_body}))
        .collect();
    let batch = serde_json::to_vec(&items).unwrap();
    let batch_len = batch.len();
    let batch_status = send(client.http.post(format!("{}/v2/batch", client.base)), client, batch).await;
    let after_batch = memory();

    let endpoints: Vec<Value> = (0..group_endpoints)
        .map(|n| json!({ "url": format!("{}/e{n}", client.hook) }))
        .collect();
    let group = serde_json::to_vec(&json!({ "endpoints": endpoints })).unwrap();
    let group_url = format!("{}/v2/topics/bench-fan-out/endpoints", client.base);
    let group_status = send(client.http.post(group_url), client, group).await;
    let publish = client
        .http
        .post(format!("{}/v2/publish/bench-fan-out", client.base))
        .header("Upstash-Delay", "300d");
    let fan_out_status = send(publish, client, vec![b'f'; body_bytes]).await;
    let after_fan_out = memory();

    json!({
        "run": "memory",
        "batch": { "items": batch_items, "request_bytes": batch_len, "status": batch_status },
        "fan_out": { "endpoints": group_endpoints, "body_bytes": body_bytes,
                     "group_status": group_status, "publish_status": fan_out_status },
        "server_memory_before": before,
        "server_memory_after_batch": after_batch,
        "server_memory_after_fan_out": after_fan_out,
    })
}

async fn send(request: reqwest::RequestBuilder, client: &Client, body: Vec<u8>) -> u16 {
    let request = request
        .bearer_auth(&client.token)
        .header("content-type", "application/json")
        .body(body);
    match request.send().await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}
