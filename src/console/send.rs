//! Send a test message: a form that publishes through `POST /v2/publish/{destination}`, exactly as an SDK
//! would, and then opens the new message's page.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use super::client::{self, encode, Caller};
use super::layout::{self, page};
use super::Session;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub(super) struct SendForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    headers: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    delay: String,
    #[serde(default)]
    retries: String,
}

/// The API headers a form asks for: each `(header, field)` of `options` whose field is not blank, then the
/// `Name: value` lines of `forward` as forwarded headers; or why a line is no header.
pub fn request_headers(options: &[(&str, &String)], forward: &str) -> Result<Vec<(String, String)>, String> {
    let mut headers: Vec<(String, String)> = options
        .iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(name, value)| (name.to_string(), value.trim().to_string()))
        .collect();
    headers.extend(forwarded_headers(forward)?);
    Ok(headers)
}

/// `Name: value` lines as `Upstash-Forward-Name` headers (the ones QStash passes on to the destination).
fn forwarded_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((format!("upstash-forward-{}", name.trim()), value.trim().to_string()))
            }
            _ => Err(format!("header line {line:?} must read Name: value")),
        })
        .collect()
}

/// Which field an API error is about, by a word it mentions (the URL's when it mentions none). An error
/// about the destination is the URL's even when it names a header.
const FIELD_WORDS: &[(&str, &str)] = &[
    ("delay", "delay"),
    ("retries", "retries"),
    ("destination", "url"),
    ("header", "headers"),
    ("method", "method"),
];

fn form(session: &Session, f: &SendForm, error: Option<&str>) -> Markup {
    let error = layout::FieldError::at(error, FIELD_WORDS, "url");
    html! {
        h1 { "Send a test message" }
        @if !session.may_change() { p.warn { "The read-only token cannot send messages." } }
        form.card.form method="post" action="/console/send" {
            (layout::csrf(session))
            label for="url" { "Destination URL" }
            input #url name="url" type="url" required value=(f.url) placeholder="http://localhost:3000/api/hook" autofocus;
            (layout::field_error(error.as_ref(), "url"))
            label for="method" { "Method" }
            select #method name="method" { @for m in ["POST", "GET", "PUT", "PATCH", "DELETE"] { option selected[f.method == m] { (m) } } }
            (layout::field_error(error.as_ref(), "method"))
            label for="headers" { "Headers (one " code { "Name: value" } " a line)" }
            textarea #headers name="headers" rows="3" placeholder="Content-Type: application/json" { (f.headers) }
            (layout::field_error(error.as_ref(), "headers"))
            label for="body" { "Body" }
            textarea #body name="body" rows="5" { (f.body) }
            div.row {
                div { label for="delay" { "Delay" } input #delay name="delay" value=(f.delay) placeholder="10s, 5m, 1h"; (layout::field_error(error.as_ref(), "delay")) }
                div { label for="retries" { "Retries" } input #retries name="retries" type="number" min="0" value=(f.retries) placeholder="3"; (layout::field_error(error.as_ref(), "retries")) }
            }
            div.buttons { button.primary type="submit" { "Send" } }
        }
    }
}

/// A blank form (its method select starts at POST, the first option).
pub(super) async fn form_page(Extension(session): Extension<Session>) -> Markup {
    page(
        &session,
        "Send",
        "/console/send",
        form(&session, &SendForm::default(), None),
    )
}

pub(super) async fn send(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    caller: Caller,
    Form(f): Form<SendForm>,
) -> Response {
    let options = [
        ("upstash-method", &f.method),
        ("upstash-delay", &f.delay),
        ("upstash-retries", &f.retries),
    ];
    let headers = match request_headers(&options, &f.headers) {
        Ok(headers) => headers,
        Err(error) => return refused(&session, &f, &error),
    };
    let target = format!("/v2/publish/{}", f.url.trim());
    let body = f.body.clone().into_bytes();
    let answer = client::call_from(&app, caller.0, http::Method::POST, &target, &headers, body).await;
    match answer.error() {
        None => {
            let id = answer.json["messageId"].as_str().unwrap_or_default();
            Redirect::to(&format!("/console/messages/{}", encode(id))).into_response()
        }
        Some(error) => refused(&session, &f, &error),
    }
}

fn refused(session: &Session, f: &SendForm, error: &str) -> Response {
    layout::form_refused(page(session, "Send", "/console/send", form(session, f, Some(error))))
}
