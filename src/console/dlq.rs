//! The dead-letter queue: the filtered list, one entry with its request and last response, and Retry and
//! Delete of one entry, the selected ones or all that match the filter. A bulk action first shows a
//! confirmation naming exactly the entries it will act on (found through the API's own filter parsing,
//! so a filter never widens); confirming acts on those ids only.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};

use super::client::{self, encode};
use super::filters::{self, Filters};
use super::layout::{self, page, Refusal};
use super::messages::labels;
use super::Session;
use crate::state::AppState;
use crate::wire;

/// Rows per page of the list (the API's largest DLQ page).
const PAGE: usize = 100;
/// Most entries one bulk action takes; a larger match is acted on in several rounds.
const BULK_CAP: usize = 1_000;

pub(super) async fn list(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    filters: Filters,
) -> Markup {
    let listed = filters::fetch_page::<wire::DlqMessage>(&app, "/v2/dlq", &filters, PAGE).await;
    let heading = html! {
        h1 { "Dead-letter queue" }
        @if let Some(done) = filters.get("done") { p.notice role="status" { (done) } }
    };
    let empty = layout::empty(
        if listed.window_ended {
            "No DLQ entry matches among those searched so far."
        } else if filters.any() {
            "No DLQ entry matches these filters."
        } else {
            "The DLQ is empty: nothing has run out of retries."
        },
        html! { "Messages land here when their last attempt fails. " a href="/console/messages" { "See all messages" } },
    );
    let body = listed.render(heading, empty, |rows| {
        html! {
            form #bulk method="post" action="/console/dlq/bulk" {
                (layout::csrf(&session))
                input type="hidden" name="filter" value=(filters.console_query());
                @if session.may_change() {
                    div.actions {
                        button type="submit" name="action" value="retry-selected" { "Retry selected" }
                        button.danger type="submit" name="action" value="delete-selected" { "Delete selected" }
                        button type="submit" name="action" value="retry-matching" { "Retry all matching" }
                        button.danger type="submit" name="action" value="delete-matching" { "Delete all matching" }
                    }
                }
                div.scroll { table {
                    thead { tr {
                        @if session.may_change() { th { input type="checkbox" data-select-all="dlqId" aria-label="Select all on this page"; } }
                        th { "Entry" } th { "Status" } th { "Destination" } th { "Labels" } th { "Failed" }
                    } }
                    tbody { @for e in rows {
                        @let id = e.dlq_id.as_str();
                        tr {
                            @if session.may_change() { td { input type="checkbox" name="dlqId" value=(id) aria-label={"Select " (id)}; } }
                            td { a.mono href={"/console/dlq/" (encode(id))} { (id) } }
                            td { (e.response_status) }
                            td.url { (e.message.url) }
                            td { (labels(&e.message.labels.all)) }
                            td { (layout::time(e.message.created_at)) }
                        }
                    } }
                } }
            }
        }
    });
    page(&session, "DLQ", "/console/dlq", body)
}

pub(super) async fn show(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Markup, Refusal> {
    let e: wire::DlqMessage = client::get_as(&app, &format!("/v2/dlq/{}", encode(&id))).await?;
    let message_id = e.message.message_id.as_str();
    let body = html! {
        h1 { "DLQ entry " span.mono { (id) } }
        div.summary {
            (layout::state("FAILED"))
            span { "message " a.mono href={"/console/messages/" (encode(message_id))} { (message_id) } }
            (labels(&e.message.labels.all))
        }
        @if let Some(run_id) = &e.workflow_run_id {
            // A workflow step's entry goes on as a new run (resume or restart), not as a retried message.
            p { "A step of workflow run " a.mono #workflow-run href={"/console/workflows/" (encode(run_id))} { (run_id) } "." }
            div.actions {
                (layout::action(&session, &format!("/console/workflows/dlq/{}/resume", encode(&id)), "Resume run", "primary"))
                (layout::action(&session, &format!("/console/workflows/dlq/{}/restart", encode(&id)), "Restart run", ""))
                (layout::action(&session, &format!("/console/dlq/{}/delete", encode(&id)), "Delete", "danger"))
            }
        } @else {
            div.actions {
                (layout::action(&session, &format!("/console/dlq/{}/retry", encode(&id)), "Retry", "primary"))
                (layout::action(&session, &format!("/console/dlq/{}/delete", encode(&id)), "Delete", "danger"))
            }
        }
        section.card #last-response {
            h2 { "Last response" }
            p { "Status " strong #response-status { (e.response_status) } }
            @if let Some(error) = &e.error { p.error { (error) } }
            (layout::headers(&e.response_header))
            (layout::body_text(e.response_body.as_deref(), e.response_body_base64.as_deref()))
        }
        section.card {
            h2 { "Request" }
            (layout::request(&e.message))
        }
    };
    Ok(page(&session, &format!("DLQ entry {id}"), "/console/dlq", body))
}

pub(super) async fn retry_one(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let target = format!("/v2/dlq/retry/{}", encode(&id));
    let answer = client::call(&app, http::Method::POST, &target, &[], Vec::new()).await;
    match answer.ok_as::<wire::RetriedMessage>(&target) {
        Ok(retried) => Redirect::to(&format!("/console/messages/{}", encode(&retried.message_id))).into_response(),
        Err(refused) => refused.into_response(),
    }
}

pub(super) async fn delete_one(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let target = format!("/v2/dlq/{}", encode(&id));
    match client::call(&app, http::Method::DELETE, &target, &[], Vec::new())
        .await
        .ok()
    {
        Ok(_) => Redirect::to("/console/dlq?done=Deleted+1+entry.").into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// The form fields of a bulk request: repeated `dlqId`s, the list's filter, the action.
fn form_fields(body: &[u8]) -> (Vec<String>, String, String) {
    let mut ids = Vec::new();
    let (mut filter, mut action) = (String::new(), String::new());
    for (key, value) in url::form_urlencoded::parse(body) {
        match &*key {
            "dlqId" => ids.push(value.into_owned()),
            "filter" => filter = value.into_owned(),
            "action" => action = value.into_owned(),
            _ => {}
        }
    }
    (ids, filter, action)
}

/// The ids a bulk action would take: the selected ones that still exist, or every match of the filter
/// (at most [`BULK_CAP`]); and whether more matched.
async fn selection(app: &AppState, api_query: Vec<(String, String)>) -> Result<(Vec<wire::DlqMessage>, bool), Refusal> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = api_query.clone();
        query.push(("count".into(), PAGE.to_string()));
        if let Some(c) = &cursor {
            query.push(("cursor".into(), c.clone()));
        }
        let page: wire::DlqPage = client::get_as(app, &format!("/v2/dlq?{}", filters::query_string(&query))).await?;
        entries.extend(page.messages);
        cursor = page.cursor;
        if cursor.is_none() || entries.len() >= BULK_CAP {
            let more = entries.len() > BULK_CAP || cursor.is_some();
            entries.truncate(BULK_CAP);
            return Ok((entries, more));
        }
    }
}

pub(super) async fn confirm_page(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    body: axum::body::Bytes,
) -> Result<Markup, Refusal> {
    let (ids, filter, action) = form_fields(&body);
    let (verb, scope) = match action.split_once('-') {
        Some((verb @ ("retry" | "delete"), scope @ ("selected" | "matching"))) => (verb, scope),
        _ => return Err(Refusal(http::StatusCode::BAD_REQUEST, "Unknown bulk action.".into())),
    };
    let back = format!("/console/dlq?{filter}");
    let api_query = if scope == "selected" {
        if ids.is_empty() {
            return Err(Refusal(
                http::StatusCode::BAD_REQUEST,
                "Select at least one entry first.".into(),
            ));
        }
        vec![("dlqIds".to_string(), ids.join(","))]
    } else {
        Filters::parse(Some(&filter)).api_query(true)
    };
    let (entries, more) = selection(&app, api_query).await?;
    let count = entries.len();
    let title = format!(
        "{} {count} DLQ {}?",
        if verb == "retry" { "Retry" } else { "Delete" },
        if count == 1 { "entry" } else { "entries" }
    );
    let body = html! {
        h1 #confirm-title { (title) }
        @if more { p.warn { "More entries match than one action takes (" (BULK_CAP) "): this acts on the oldest " (count) "; run it again for the rest." } }
        @if count == 0 { p { "Nothing to do: no entry matches." } p { a.button href=(back) { "Back" } } } @else {
            p #confirm-count { "This will " (verb) " exactly " strong { (count) } " " (if count == 1 { "entry" } else { "entries" }) "." }
            form method="post" action="/console/dlq/bulk/confirm" {
                (layout::csrf(&session))
                input type="hidden" name="action" value=(verb);
                input type="hidden" name="filter" value=(filter);
                @for e in &entries { input type="hidden" name="dlqId" value=(e.dlq_id); }
                div.actions {
                    button class=(if verb == "retry" { "primary" } else { "danger" }) type="submit" { "Yes, " (verb) " " (count) }
                    a.button href=(back) { "Cancel" }
                }
            }
            ul.compact { @for e in entries.iter().take(20) { li.mono { (e.dlq_id) " → " (e.message.url) } } }
            @if count > 20 { p.hint { "… and " (count - 20) " more." } }
        }
    };
    Ok(page(&session, "Confirm", "/console/dlq", body))
}

/// Acts on exactly the confirmed ids (an entry removed meanwhile is skipped by the API).
pub(super) async fn bulk(State(app): State<AppState>, body: axum::body::Bytes) -> Response {
    let (ids, filter, action) = form_fields(&body);
    if ids.is_empty() {
        return layout::refusal(http::StatusCode::BAD_REQUEST, "No entries were confirmed.");
    }
    let request_body = serde_json::to_vec(&wire::BulkBody::dlq_ids(&ids)).expect("request bodies serialise");
    let headers = [("content-type".to_string(), "application/json".to_string())];
    let (method, target) = match action.as_str() {
        "retry" => (http::Method::POST, "/v2/dlq/retry"),
        "delete" => (http::Method::DELETE, "/v2/dlq"),
        _ => return layout::refusal(http::StatusCode::BAD_REQUEST, "Unknown bulk action."),
    };
    let answer = client::call(&app, method, target, &headers, request_body).await;
    let done = match action.as_str() {
        "retry" => answer
            .ok_as::<wire::Retried>(target)
            .map(|retried| format!("Retried {} entries.", retried.responses.len())),
        _ => answer
            .ok_as::<wire::Deleted>(target)
            .map(|deleted| format!("Deleted {} entries.", deleted.deleted)),
    };
    match done {
        Ok(done) => {
            let mut back = url::form_urlencoded::Serializer::new(filter);
            back.append_pair("done", &done);
            Redirect::to(&format!("/console/dlq?{}", back.finish())).into_response()
        }
        Err(refused) => refused.into_response(),
    }
}
