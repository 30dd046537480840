//! Queues, URL groups and flow-control keys: list them, set a queue's parallelism, add and remove a
//! group's endpoints, pause and resume, pin and unpin limits, reset a rate window; and the signing keys,
//! masked until revealed, with rotation where the keys are not set by configuration.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use super::client::{self, encode};
use super::filters::query_string;
use super::layout::{self, page, Refusal};
use super::Session;
use crate::state::AppState;
use crate::wire;

const BACK: &str = "/console/queues";

pub(super) async fn list(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Markup, Refusal> {
    let queues: Vec<wire::Queue> = client::get_as(&app, "/v2/queues").await?;
    let groups: Vec<wire::UrlGroup> = client::get_as(&app, "/v2/topics").await?;
    let keys: Vec<wire::FlowControlInfo> = client::get_as(&app, "/v2/flowControl").await?;
    let can = session.may_change();
    let body = html! {
        h1 { "Queues, URL groups and flow control" }
        section.card {
            h2 { "Queues" }
            @if queues.is_empty() { (layout::empty("No queues.", html! { "Enqueueing to a name creates its queue, or create one below." })) }
            @else { div.scroll { table {
                thead { tr { th { "Queue" } th { "Parallelism" } th { "Waiting" } th { "State" } @if can { th { "Actions" } } } }
                tbody { @for q in &queues {
                    @let name = q.name.as_str();
                    @let paused = q.paused;
                    tr {
                        td.mono { (name) } td { (q.parallelism) } td { (q.lag) }
                        td { @if paused { span.badge.muted { "paused" } } @else { span.badge.good { "active" } } }
                        @if can { td.actions {
                            (layout::action(&session, &format!("/console/queues/{}/{}", encode(name), if paused { "resume" } else { "pause" }), if paused { "Resume" } else { "Pause" }, ""))
                            (layout::action(&session, &format!("/console/queues/{}/delete", encode(name)), "Delete", "danger"))
                        } }
                    }
                } }
            } } }
            @if can {
                form.inline-form method="post" action="/console/queues/save" {
                    (layout::csrf(&session))
                    label { span { "Queue" } input name="name" required pattern="[A-Za-z0-9._-]+"; }
                    label { span { "Parallelism" } input name="parallelism" type="number" min="1" value="1"; }
                    button type="submit" { "Create or set" }
                }
            }
        }
        section.card {
            h2 { "URL groups" }
            @if groups.is_empty() { (layout::empty("No URL groups.", html! { "Add an endpoint below to create one; publishing to its name fans out to every endpoint." })) }
            @for g in &groups {
                @let name = g.name.as_str();
                h3.mono { (name) " " (layout::action(&session, &format!("/console/url-groups/{}/delete", encode(name)), "Delete group", "danger small")) }
                ul.compact { @for e in &g.endpoints {
                    @let url = e.url.as_str();
                    li {
                        span.mono { (url) } @if let Some(n) = &e.name { " (" (n) ")" } " "
                        @if can { form.inline method="post" action={"/console/url-groups/" (encode(name)) "/remove"} {
                            (layout::csrf(&session)) input type="hidden" name="url" value=(url);
                            button.small.danger type="submit" { "Remove" }
                        } }
                    }
                } }
            }
            @if can {
                form.inline-form method="post" action="/console/url-groups/endpoints" {
                    (layout::csrf(&session))
                    label { span { "Group" } input name="group" required; }
                    label { span { "Endpoint URL" } input name="url" type="url" required; }
                    label { span { "Name (optional)" } input name="name"; }
                    button type="submit" { "Add endpoint" }
                }
            }
        }
        section.card {
            h2 { "Flow-control keys" }
            @if keys.is_empty() { (layout::empty("No flow-control keys.", html! { "Publishing with Upstash-Flow-Control-Key creates one." })) }
            @else { div.scroll { table {
                thead { tr { th { "Key" } th { "Waiting" } th { "Parallelism" } th { "Rate" } th { "State" } @if can { th { "Actions" } } } }
                tbody { @for k in &keys { (flow_row(&session, k)) } }
            } } }
        }
    };
    Ok(page(&session, "Queues & groups", "/console/queues", body))
}

fn flow_row(session: &Session, k: &wire::FlowControlInfo) -> Markup {
    let key = k.flow_control_key.as_str();
    let paused = k.is_paused;
    let base = format!("/console/flow-control/{}", encode(key));
    html! {
        tr {
            td.mono { (key) } td { (k.wait_list_size) }
            td { (k.parallelism_count) " / " (k.parallelism_max) @if k.is_pinned_parallelism { " 📌" } }
            td { (k.rate_count) " / " (k.rate_max) " per " (k.rate_period) " s" @if k.is_pinned_rate { " 📌" } }
            td { @if paused { span.badge.muted { "paused" } } @else { span.badge.good { "active" } } }
            @if session.may_change() { td.actions {
                (layout::action(session, &format!("{base}/{}", if paused { "resume" } else { "pause" }), if paused { "Resume" } else { "Pause" }, ""))
                (layout::action(session, &format!("{base}/resetRate"), "Reset rate", ""))
                (layout::action(session, &format!("{base}/unpin"), "Unpin", ""))
                form.inline method="post" action={(base) "/pin"} {
                    (layout::csrf(session))
                    input.tiny name="parallelism" type="number" min="1" placeholder="parallelism" aria-label="Pinned parallelism";
                    input.tiny name="rate" type="number" min="1" placeholder="rate" aria-label="Pinned rate";
                    input.tiny name="period" type="number" min="1" placeholder="period s" aria-label="Rate period in seconds";
                    button.small type="submit" { "Pin" }
                }
            } }
        }
    }
}

/// A request body of [`crate::wire`] as JSON bytes.
fn json_body(body: &impl serde::Serialize) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(body).expect("request bodies serialise"))
}

/// Performs an API request and returns to `back`, or shows the API's refusal.
async fn act(app: &AppState, method: http::Method, target: &str, body: Option<Vec<u8>>, back: &str) -> Response {
    let headers = [("content-type".to_string(), "application/json".to_string())];
    let body = body.unwrap_or_default();
    match client::call(app, method, target, &headers, body).await.ok() {
        Ok(_) => Redirect::to(back).into_response(),
        Err(refused) => refused.into_response(),
    }
}

#[derive(Deserialize)]
pub(super) struct QueueForm {
    name: String,
    #[serde(default)]
    parallelism: String,
}

pub(super) async fn save_queue(State(app): State<AppState>, Form(f): Form<QueueForm>) -> Response {
    let Ok(parallelism) = f.parallelism.trim().parse::<i32>() else {
        return layout::refusal(http::StatusCode::BAD_REQUEST, "Parallelism must be a whole number.");
    };
    let body = wire::QueueUpsert {
        queue_name: f.name.trim().to_string(),
        parallelism: Some(parallelism),
        paused: Some(false),
    };
    act(&app, http::Method::POST, "/v2/queues", json_body(&body), BACK).await
}

pub(super) async fn queue_action(
    State(app): State<AppState>,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    let target = format!("/v2/queues/{}", encode(&name));
    match action.as_str() {
        "pause" | "resume" => act(&app, http::Method::POST, &format!("{target}/{action}"), None, BACK).await,
        "delete" => act(&app, http::Method::DELETE, &target, None, BACK).await,
        _ => layout::refusal(http::StatusCode::NOT_FOUND, "Unknown queue action."),
    }
}

#[derive(Deserialize)]
pub(super) struct EndpointForm {
    group: String,
    url: String,
    #[serde(default)]
    name: String,
}

pub(super) async fn add_endpoint(State(app): State<AppState>, Form(f): Form<EndpointForm>) -> Response {
    let endpoint = wire::EndpointRequest {
        url: Some(f.url.trim().to_string()),
        name: Some(f.name.trim().to_string()).filter(|name| !name.is_empty()),
    };
    let target = format!("/v2/topics/{}/endpoints", encode(f.group.trim()));
    act(
        &app,
        http::Method::POST,
        &target,
        json_body(&wire::EndpointsBody {
            endpoints: vec![endpoint],
        }),
        BACK,
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct RemoveForm {
    url: String,
}

pub(super) async fn remove_endpoint(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Form(f): Form<RemoveForm>,
) -> Response {
    let target = format!("/v2/topics/{}/endpoints", encode(&name));
    act(
        &app,
        http::Method::DELETE,
        &target,
        json_body(&wire::EndpointsBody {
            endpoints: vec![wire::EndpointRequest::url(f.url)],
        }),
        BACK,
    )
    .await
}

pub(super) async fn delete_group(State(app): State<AppState>, Path(name): Path<String>) -> Response {
    act(
        &app,
        http::Method::DELETE,
        &format!("/v2/topics/{}", encode(&name)),
        None,
        BACK,
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct PinForm {
    #[serde(default)]
    parallelism: String,
    #[serde(default)]
    rate: String,
    #[serde(default)]
    period: String,
}

pub(super) async fn pin(State(app): State<AppState>, Path(key): Path<String>, Form(f): Form<PinForm>) -> Response {
    let given: Vec<(String, String)> = [("parallelism", f.parallelism), ("rate", f.rate), ("period", f.period)]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    let target = format!("/v2/flowControl/{}/pin?{}", encode(&key), query_string(&given));
    act(&app, http::Method::POST, &target, None, BACK).await
}

pub(super) async fn flow_action(State(app): State<AppState>, Path((key, action)): Path<(String, String)>) -> Response {
    let query = match action.as_str() {
        "pause" | "resume" | "resetRate" => "",
        "unpin" => "?parallelism=true&rate=true",
        _ => return layout::refusal(http::StatusCode::NOT_FOUND, "Unknown flow-control action."),
    };
    let target = format!("/v2/flowControl/{}/{action}{query}", encode(&key));
    act(&app, http::Method::POST, &target, None, BACK).await
}

/// The first four characters and stars.
fn masked(key: &str) -> String {
    let head: String = key.chars().take(4).collect();
    format!("{head}{}", "•".repeat(key.chars().count().saturating_sub(4).min(24)))
}

pub(super) async fn keys(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Markup, Refusal> {
    let keys: wire::SigningKeys = client::get_as(&app, "/v2/keys").await?;
    let body = html! {
        h1 { "Signing keys" }
        p.hint { "Receivers verify deliveries with these (QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY)." }
        section.card {
            @for (name, key) in [("Current", &keys.current), ("Next", &keys.next)] {
                div.key {
                    strong { (name) } " "
                    code.secret data-secret=(key) { (masked(key)) }
                    " " button.small type="button" data-reveal { "Reveal" }
                }
            }
            @if app.keys.is_configured() {
                p.hint { "These keys are set by configuration (QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY): rotate them there." }
            } @else if session.may_change() {
                p.hint { "Rotating makes the next key current and creates a new next key; receivers that know both keep verifying." }
                (layout::action(&session, "/console/keys/rotate", "Rotate keys", "danger"))
            }
        }
    };
    Ok(page(&session, "Signing keys", "/console/keys", body))
}

pub(super) async fn rotate(State(app): State<AppState>) -> Response {
    act(&app, http::Method::POST, "/v2/keys/rotate", None, "/console/keys").await
}
