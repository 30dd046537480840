//! Messages and their logs: the filtered list with cursor paging, one message's request and attempts, and
//! its actions Cancel and Run now.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use maud::{html, Markup};
use serde_json::Value;

use super::client::{self, encode};
use super::filters::{self, Filters};
use super::layout::{self, page, Refusal};
use super::Session;
use crate::api::AppState;

/// Rows per page.
const PAGE: usize = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/messages", get(list))
        .route("/console/messages/{id}", get(show))
        .route("/console/messages/{id}/cancel", post(cancel))
        .route("/console/messages/{id}/run", post(run_now))
}

async fn list(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Result<Markup, Refusal> {
    let filters = Filters::parse(raw.as_deref());
    let listed = filters::fetch_page(&app, "/v2/messages", &filters, PAGE).await;
    let body = html! {
        h1 { "Messages" }
        (filters::form(&filters, "/console/messages", false))
        @if let Some(error) = &listed.error { p.error role="alert" { (error) } }
        @if listed.rows.is_empty() && listed.error.is_none() {
            @if filters.any() {
                (layout::empty(if listed.window_ended { "No message matches among those searched so far." } else { "No message matches these filters." }, html! { a href="/console/messages" { "Clear the filters" } }))
            } @else {
                (layout::empty("No messages yet.", html! { a href="/console/send" { "Send a test message" } " or publish with an SDK." }))
            }
        } @else {
            div.scroll { table {
                thead { tr { th { "Message" } th { "State" } th { "Destination" } th { "Labels" } th { "Created" } th { "Next delivery" } } }
                tbody { @for m in &listed.rows { (row(m)) } }
            } }
        }
        (listed.next_link())
    };
    Ok(page(&session, "Messages", "/console/messages", body))
}

fn row(m: &Value) -> Markup {
    let id = m["messageId"].as_str().unwrap_or_default();
    html! {
        tr {
            td { a.mono href={"/console/messages/" (encode(id))} { (id) } }
            td { (layout::state(m["state"].as_str().unwrap_or_default())) }
            td.url { (m["url"].as_str().unwrap_or_default()) }
            td { (labels(m)) }
            td { (layout::time(m["createdAt"].as_i64().unwrap_or_default())) }
            td { @if let Some(at) = m["nextDeliveryTime"].as_i64() { (layout::time(at)) } @else { "—" } }
        }
    }
}

pub fn labels(m: &Value) -> Markup {
    html! { @for label in m["labels"].as_array().into_iter().flatten() { span.badge.label { (label.as_str().unwrap_or_default()) } " " } }
}

async fn show(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Markup, Refusal> {
    let message = client::get(&app, &format!("/v2/messages/{}", encode(&id))).await?;
    let logs = client::get(&app, &format!("/v2/logs?messageId={}&count=100", encode(&id))).await?;
    let mut attempts: Vec<Value> = logs["events"].as_array().cloned().unwrap_or_default();
    attempts.sort_by_key(|e| e["time"].as_i64().unwrap_or_default());
    let state = message["state"].as_str().unwrap_or_default();
    let waiting = matches!(state, "CREATED" | "RETRY");
    let body = html! {
        h1 { "Message " span.mono { (id) } }
        div.summary {
            (layout::state(state))
            span { "attempts made: " strong #retried { (attempts_made(&message)) } }
            @if let Some(at) = message["nextDeliveryTime"].as_i64() { span { "next delivery " (layout::time(at)) } }
            (labels(&message))
        }
        @if waiting {
            div.actions {
                (layout::action(&session, &format!("/console/messages/{}/run", encode(&id)), "Run now", "primary"))
                (layout::action(&session, &format!("/console/messages/{}/cancel", encode(&id)), "Cancel", "danger"))
            }
        }
        section.card {
            h2 { "Request" }
            p.mono { strong { (message["method"].as_str().unwrap_or("POST")) } " " (message["url"].as_str().unwrap_or_default()) }
            (layout::headers(&message["header"]))
            (layout::body_text(message["body"].as_str(), message["bodyBase64"].as_str()))
            (details(&message))
        }
        section.card {
            h2 { "Attempts and log" }
            @if attempts.is_empty() { p.hint { "Nothing logged yet." } } @else {
                div.scroll { table #log {
                    thead { tr { th { "Time" } th { "State" } th { "Response status" } th { "Error" } th { "Next delivery" } } }
                    tbody { @for e in &attempts {
                        tr {
                            td { (layout::time(e["time"].as_i64().unwrap_or_default())) }
                            td { (layout::state(e["state"].as_str().unwrap_or_default())) }
                            td { @if let Some(s) = e["responseStatus"].as_i64() { (s) } @else { "—" } }
                            td { (e["error"].as_str().unwrap_or("")) }
                            td { @if let Some(at) = e["nextDeliveryTime"].as_i64() { (layout::time(at)) } }
                        }
                    } }
                } }
            }
        }
    };
    Ok(page(&session, &format!("Message {id}"), "/console/messages", body))
}

/// Attempts made so far: `retried` counts retries, and a message that has run once has one more attempt.
fn attempts_made(message: &Value) -> i64 {
    let retried = message["retried"].as_i64().unwrap_or_default();
    match message["state"].as_str() {
        Some("CREATED") => 0,
        _ => retried + 1,
    }
}

/// Settings worth seeing when present.
fn details(m: &Value) -> Markup {
    let fields = [
        ("maxRetries", "Retries"),
        ("queueName", "Queue"),
        ("topicName", "URL group"),
        ("scheduleId", "Schedule"),
        ("flowControlKey", "Flow-control key"),
        ("callback", "Callback"),
        ("failureCallback", "Failure callback"),
        ("callerIP", "Caller IP"),
    ];
    html! {
        dl.details {
            @for (key, label) in fields {
                @if !m[key].is_null() { dt { (label) } dd { (m[key].to_string().trim_matches('"')) } }
            }
            dt { "Created" } dd { (layout::time(m["createdAt"].as_i64().unwrap_or_default())) }
        }
    }
}

async fn cancel(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let target = format!("/v2/messages/{}", encode(&id));
    act(&app, http::Method::DELETE, &target, &id).await
}

async fn run_now(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let target = format!("/v2/messages/{}/retry", encode(&id));
    act(&app, http::Method::POST, &target, &id).await
}

/// Performs a message action and shows the message again, or the API's refusal.
async fn act(app: &AppState, method: http::Method, target: &str, id: &str) -> Response {
    match client::call(app, method, target, &[], Vec::new()).await.ok() {
        Ok(_) => Redirect::to(&format!("/console/messages/{}", encode(id))).into_response(),
        Err(refused) => refused.into_response(),
    }
}
