//! Messages and their logs: the filtered list with cursor paging, one message's request and attempts, and
//! its actions Cancel and Run now.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};

use super::client::{self, encode};
use super::filters::{self, Filters};
use super::layout::{self, page, Refusal};
use super::Session;
use crate::state::AppState;
use crate::wire;

/// Rows per page.
const PAGE: usize = 50;

pub(super) async fn list(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    filters: Filters,
) -> Markup {
    let listed = filters::fetch_page::<wire::Message>(&app, "/v2/messages", &filters, PAGE).await;
    let empty = if filters.any() {
        layout::empty(
            if listed.window_ended {
                "No message matches among those searched so far."
            } else {
                "No message matches these filters."
            },
            html! { a href="/console/messages" { "Clear the filters" } },
        )
    } else {
        layout::empty(
            "No messages yet.",
            html! { a href="/console/send" { "Send a test message" } " or publish with an SDK." },
        )
    };
    let body = listed.render(html! { h1 { "Messages" } }, empty, |rows| {
        html! {
            div.scroll { table {
                thead { tr { th { "Message" } th { "State" } th { "Destination" } th { "Labels" } th { "Created" } th { "Next delivery" } } }
                tbody { @for m in rows { (row(m)) } }
            } }
        }
    });
    page(&session, "Messages", "/console/messages", body)
}

fn row(m: &wire::Message) -> Markup {
    let id = m.message_id.as_str();
    html! {
        tr {
            td { a.mono href={"/console/messages/" (encode(id))} { (id) } }
            td { (layout::state(m.state.name())) }
            td.url { (m.url) }
            td { (labels(&m.labels.all)) }
            td { (layout::time(m.created_at)) }
            td { @if let Some(at) = m.next_delivery_time { (layout::time(at)) } @else { "—" } }
        }
    }
}

pub fn labels(labels: &[String]) -> Markup {
    html! { @for label in labels { span.badge.label { (label) } " " } }
}

pub(super) async fn show(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Markup, Refusal> {
    let message: wire::Message = client::get_as(&app, &format!("/v2/messages/{}", encode(&id))).await?;
    let logs: wire::LogPage = client::get_as(&app, &format!("/v2/logs?messageId={}&count=100", encode(&id))).await?;
    let mut attempts = logs.events;
    attempts.sort_by_key(|e| e.time);
    let state = message.state.name();
    let waiting = matches!(state, "CREATED" | "RETRY");
    let body = html! {
        h1 { "Message " span.mono { (id) } }
        div.summary {
            (layout::state(state))
            span { "attempts made: " strong #retried { (attempts_made(&message)) } }
            @if let Some(at) = message.next_delivery_time { span { "next delivery " (layout::time(at)) } }
            (labels(&message.labels.all))
        }
        @if waiting {
            div.actions {
                // A message in a FIFO queue runs in the queue's order: the API refuses to run it out of turn.
                @if message.routing.queue_name.is_none() {
                    (layout::action(&session, &format!("/console/messages/{}/run", encode(&id)), "Run now", "primary"))
                }
                (layout::action(&session, &format!("/console/messages/{}/cancel", encode(&id)), "Cancel", "danger"))
            }
        }
        section.card {
            h2 { "Request" }
            (layout::request(&message))
            (details(&message))
        }
        section.card {
            h2 { "Attempts and log" }
            @if attempts.is_empty() { p.hint { "Nothing logged yet." } } @else {
                div.scroll { table #log {
                    thead { tr {
                        th { "Time" } th { "State" } th { "Response status" } th { "Response" } th { "Error" }
                        th { "Next delivery" }
                    } }
                    tbody { @for e in &attempts {
                        tr {
                            td { (layout::time(e.time)) }
                            td { (layout::state(e.state.as_str())) }
                            td { @if let Some(s) = e.response_status { (s) } @else { "—" } }
                            td { (response(e)) }
                            td { (e.error.as_deref().unwrap_or("")) }
                            td { @if let Some(at) = e.next_delivery_time { (layout::time(at)) } }
                        }
                    } }
                } }
            }
        }
    };
    Ok(page(&session, &format!("Message {id}"), "/console/messages", body))
}

/// A failed attempt's response (ERROR entries): the start of its body, opening to its headers and the body
/// as kept (already cut to --log-response-bytes, and redacted as the message asks).
fn response(e: &wire::LogEntry) -> Markup {
    let Some(body) = e.response_text() else {
        return html! {};
    };
    let header = e.response_headers.clone().unwrap_or_default();
    let summary: String = match body.trim() {
        "" => "(empty body)".to_string(),
        text if text.chars().count() > 60 => format!("{}…", text.chars().take(60).collect::<String>()),
        text => text.to_string(),
    };
    html! {
        details.response {
            summary.mono { (summary) }
            (layout::headers(&header))
            pre.body { (body) }
        }
    }
}

/// Attempts made so far: `retried` counts retries, and a message that has run once has one more attempt.
fn attempts_made(message: &wire::Message) -> i32 {
    match message.state.name() {
        "CREATED" => 0,
        _ => message.retried + 1,
    }
}

/// Settings worth seeing when present.
fn details(m: &wire::Message) -> Markup {
    let fields = [
        ("Retries", Some(m.max_retries.to_string())),
        ("Queue", m.routing.queue_name.clone()),
        ("URL group", m.routing.topic_name.clone()),
        ("Schedule", m.routing.schedule_id.clone()),
        ("Flow-control key", m.routing.flow_control_key.clone()),
        ("Callback", m.callbacks.callback.clone()),
        ("Failure callback", m.callbacks.failure_callback.clone()),
        ("Caller IP", m.caller_ip.clone()),
    ];
    html! {
        dl.details {
            @for (label, value) in fields {
                @if let Some(value) = value { dt { (label) } dd { (value) } }
            }
            dt { "Created" } dd { (layout::time(m.created_at)) }
        }
    }
}

pub(super) async fn cancel(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let target = format!("/v2/messages/{}", encode(&id));
    act(&app, http::Method::DELETE, &target, &id).await
}

pub(super) async fn run_now(State(app): State<AppState>, Path(id): Path<String>) -> Response {
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
