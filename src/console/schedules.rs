//! Schedules: each cron in plain language with its zone, next five fire times and last states; a form to
//! create or edit one that validates as you type (the preview endpoint below); pause, resume, delete.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{self, encode};
use super::cron_text;
use super::layout::{self, page, Refusal};
use super::Session;
use crate::state::AppState;
use crate::wire;

pub(super) async fn list(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Markup, Refusal> {
    let schedules: Vec<wire::Schedule> = client::get_as(&app, "/v2/schedules").await?;
    let now = app.clock.now_ms();
    let body = html! {
        h1 { "Schedules" }
        @if session.may_change() { p { a.button.primary href="/console/schedules/new" { "New schedule" } } }
        @if schedules.is_empty() {
            (layout::empty("No schedules yet.", html! { "Create one with " a href="/console/schedules/new" { "New schedule" } ", e.g. " code { "0 9 * * 1" } " for Mondays at 09:00." }))
        }
        @for s in &schedules { (card(&session, s, now)) }
    };
    Ok(page(&session, "Schedules", "/console/schedules", body))
}

fn card(session: &Session, s: &wire::Schedule, now: i64) -> Markup {
    let id = s.schedule_id.as_str();
    let expression = s.cron.as_str();
    let cron = cron_text::parse(expression).ok();
    let paused = s.is_paused;
    let base = format!("/console/schedules/{}", encode(id));
    html! {
        section.card.schedule data-schedule=(id) {
            h2 { span.mono { (id) } " " @if paused { span.badge.muted.paused { "paused" } } @else { span.badge.good { "active" } } }
            p { code { (expression) } " — " @if let Some(cron) = &cron { (cron_text::describe(cron)) } }
            p.mono { (s.method) " " (s.destination) }
            @if let (Some(cron), false) = (&cron, paused) {
                details { summary { "Next five fire times (" (cron.zone().name()) ")" }
                    ol.fires { @for (ms, local) in cron_text::next_fires(cron, now, 5) { li { time data-ms=(ms) title=(local) { (local) } } } }
                }
            }
            @if !s.last_schedule_states.is_empty() {
                p { "Last fire: " @for (message, state) in &s.last_schedule_states { a.mono href={"/console/messages/" (encode(message))} { (message) } " " (state.name()) " " } }
            }
            @if session.may_change() {
                div.actions {
                    a.button href={(base) "/edit"} { "Edit" }
                    @if paused { (layout::action(session, &format!("{base}/resume"), "Resume", "")) }
                    @else { (layout::action(session, &format!("{base}/pause"), "Pause", "")) }
                    (layout::action(session, &format!("{base}/delete"), "Delete", "danger"))
                }
            }
        }
    }
}

/// What the form holds.
#[derive(Deserialize, Default)]
pub(super) struct ScheduleForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    retries: String,
    #[serde(default)]
    headers: String,
}

/// Which field an API error is about, by a word it mentions, so the message shows next to it (the URL's
/// when it mentions none).
const FIELD_WORDS: &[(&str, &str)] = &[
    ("cron", "cron"),
    ("time zone", "cron"),
    ("schedule-id", "id"),
    ("retries", "retries"),
    ("header", "headers"),
];

fn form(session: &Session, f: &ScheduleForm, error: Option<&str>) -> Markup {
    let error = layout::FieldError::at(error, FIELD_WORDS, "url");
    html! {
        h1 { @if f.id.is_empty() { "New schedule" } @else { "Schedule " span.mono { (f.id) } } }
        form.card.form method="post" action="/console/schedules" {
            (layout::csrf(session))
            label for="cron" { "Cron" }
            input #cron name="cron" required value=(f.cron) placeholder="CRON_TZ=Europe/Berlin 0 9 * * 1" data-cron-preview="/console/cron-preview" autocomplete="off" aria-describedby="cron-error cron-help";
            p.error #cron-live role="alert" hidden {}
            (layout::field_error(error.as_ref(), "cron"))
            p.hint #cron-help { "Five fields: minute hour day-of-month month day-of-week; optional " code { "CRON_TZ=Zone/City" } " first (UTC otherwise)." }
            div #cron-preview aria-live="polite" {}
            label for="url" { "Destination URL" }
            input #url name="url" type="url" required value=(f.url) placeholder="https://api.example.com/weekly-report";
            (layout::field_error(error.as_ref(), "url"))
            label for="id" { "Schedule id (optional; the same id replaces that schedule)" }
            input #id name="id" value=(f.id) pattern="[A-Za-z0-9._-]*";
            (layout::field_error(error.as_ref(), "id"))
            label for="method" { "Method" }
            select #method name="method" { @for m in ["POST", "GET", "PUT", "PATCH", "DELETE"] { option selected[f.method == m] { (m) } } }
            label for="retries" { "Retries" }
            input #retries name="retries" type="number" min="0" value=(f.retries);
            (layout::field_error(error.as_ref(), "retries"))
            label for="headers" { "Headers (one " code { "Name: value" } " a line)" }
            textarea #headers name="headers" rows="3" { (f.headers) }
            (layout::field_error(error.as_ref(), "headers"))
            label for="body" { "Body" }
            textarea #body name="body" rows="4" { (f.body) }
            div.buttons { button.primary type="submit" { "Save schedule" } a.button href="/console/schedules" { "Cancel" } }
        }
    }
}

/// A blank form (its method select starts at POST, the first option).
pub(super) async fn new_form(Extension(session): Extension<Session>) -> Markup {
    let f = ScheduleForm::default();
    page(&session, "New schedule", "/console/schedules", form(&session, &f, None))
}

pub(super) async fn edit_form(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Markup, Refusal> {
    let s: wire::Schedule = client::get_as(&app, &format!("/v2/schedules/{}", encode(&id))).await?;
    let headers: Vec<String> = s
        .header
        .iter()
        .flat_map(|(name, values)| values.iter().map(move |v| format!("{name}: {v}")))
        .collect();
    let f = ScheduleForm {
        id,
        cron: s.cron,
        url: s.destination,
        method: s.method,
        body: s.body.body.unwrap_or_default(),
        retries: s.retries.to_string(),
        headers: headers.join("\n"),
    };
    Ok(page(
        &session,
        "Edit schedule",
        "/console/schedules",
        form(&session, &f, None),
    ))
}

/// Creates or replaces through `POST /v2/schedules/{destination}`, as the SDKs do.
pub(super) async fn save(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    axum::Form(f): axum::Form<ScheduleForm>,
) -> Response {
    let mut headers = vec![("upstash-cron".to_string(), f.cron.trim().to_string())];
    let options = [
        ("upstash-schedule-id", &f.id),
        ("upstash-method", &f.method),
        ("upstash-retries", &f.retries),
    ];
    match super::send::request_headers(&options, &f.headers) {
        Ok(more) => headers.extend(more),
        Err(error) => return render_error(&session, &f, &error),
    }
    let target = format!("/v2/schedules/{}", f.url.trim());
    let answer = client::call(&app, http::Method::POST, &target, &headers, f.body.clone().into_bytes()).await;
    match answer.error() {
        None => Redirect::to("/console/schedules").into_response(),
        Some(error) => render_error(&session, &f, &error),
    }
}

fn render_error(session: &Session, f: &ScheduleForm, error: &str) -> Response {
    layout::form_refused(page(
        session,
        "Schedule",
        "/console/schedules",
        form(session, f, Some(error)),
    ))
}

pub(super) async fn act(State(app): State<AppState>, Path((id, action)): Path<(String, String)>) -> Response {
    let target = format!("/v2/schedules/{}", encode(&id));
    let (method, target) = match action.as_str() {
        "pause" | "resume" => (http::Method::PATCH, format!("{target}/{action}")),
        "delete" => (http::Method::DELETE, target),
        _ => return layout::refusal(http::StatusCode::NOT_FOUND, "Unknown schedule action."),
    };
    match client::call(&app, method, &target, &[], Vec::new()).await.ok() {
        Ok(_) => Redirect::to("/console/schedules").into_response(),
        Err(refused) => refused.into_response(),
    }
}

#[derive(Deserialize)]
pub(super) struct PreviewQuery {
    cron: String,
}

/// `GET /console/cron-preview?cron=…`: the plain-language description and the next five fire times in
/// the expression's zone, or 400 with the parser's message.
pub(super) async fn preview(State(app): State<AppState>, Query(q): Query<PreviewQuery>) -> Response {
    match cron_text::parse(&q.cron) {
        Ok(cron) => {
            let times: Vec<Value> = cron_text::next_fires(&cron, app.clock.now_ms(), 5)
                .into_iter()
                .map(|(ms, local)| json!({ "ms": ms, "local": local }))
                .collect();
            if times.is_empty() {
                let error = format!("the cron expression {:?} never fires", cron.expression());
                return (http::StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response();
            }
            Json(json!({ "description": cron_text::describe(&cron), "zone": cron.zone().name(), "times": times }))
                .into_response()
        }
        Err(error) => (
            http::StatusCode::BAD_REQUEST,
            Json(json!({ "error": error.to_string() })),
        )
            .into_response(),
    }
}
