//! The page frame every console page shares, and the small pieces pages are built from: times, state
//! badges, action buttons with their CSRF token, error pages.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::session::{Session, CSRF_FIELD};
use crate::wire;

const NAV: &[(&str, &str)] = &[
    ("/console/", "Overview"),
    ("/console/messages", "Messages"),
    ("/console/dlq", "DLQ"),
    ("/console/bulk-actions", "Bulk actions"),
    ("/console/workflows", "Workflows"),
    ("/console/schedules", "Schedules"),
    ("/console/send", "Send"),
    ("/console/queues", "Queues & groups"),
    ("/console/keys", "Signing keys"),
];

/// A whole page for a signed-in session; `active` is the nav entry to mark.
pub fn page(session: &Session, title: &str, active: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, Some(session)))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console/" { "Postdate" }
                    nav aria-label="Console" {
                        @for (href, label) in NAV {
                            a href=(href) aria-current=[(*href == active).then_some("page")] { (label) }
                        }
                    }
                    @if !session.may_change() { span.badge.readonly { "read-only" } }
                    form.inline method="post" action="/console/sign-out" {
                        button.link type="submit" { "Sign out" }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body { main #main { (body) } }
        }
    }
}

fn head(title: &str, session: Option<&Session>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            @if let Some(session) = session { meta name="csrf-token" content=(session.csrf); }
            title { (title) " · Postdate" }
            link rel="stylesheet" href="/console/assets/console.css";
            script src="/console/assets/console.js" defer {}
        }
    }
}

/// A request the console refuses, shown as an error page with its status.
#[derive(Debug)]
pub struct Refusal(pub http::StatusCode, pub String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        refusal(self.0, &self.1)
    }
}

/// An error page with `status`.
pub fn refusal(status: http::StatusCode, message: &str) -> Response {
    let body = bare(
        "Refused",
        html! { div.card.narrow { h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) } p.error role="alert" { (message) } p { a href="/console/" { "Back to the console" } } } },
    );
    (status, body).into_response()
}

/// A moment, shown in the browser's zone with a relative time by the script; UTC in the title.
pub fn time(ms: i64) -> Markup {
    let utc = chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    html! { time datetime=(utc) data-ms=(ms) title=(utc) { (utc) } }
}

/// A message, log, workflow run or step state as a coloured badge.
pub fn state(name: &str) -> Markup {
    let tone = match name {
        "DELIVERED" | "RUN_SUCCESS" | "STEP_SUCCESS" => "good",
        "FAILED" | "ERROR" | "RUN_FAILED" | "STEP_FAILED" => "bad",
        "CANCELED" | "CANCEL_REQUESTED" | "RUN_CANCELED" | "STEP_CANCELED" => "muted",
        "RETRY" | "STEP_RETRY" => "warn",
        _ => "info",
    };
    html! { span class={"badge " (tone)} { (name) } }
}

/// A one-button form posting to `action` with the CSRF token; shown only to sessions that may change things.
pub fn action(session: &Session, action: &str, label: &str, class: &str) -> Markup {
    html! {
        @if session.may_change() {
            form.inline method="post" action=(action) {
                input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                button class=(class) type="submit" { (label) }
            }
        }
    }
}

/// A form's error and the field it is about.
pub struct FieldError<'a> {
    pub field: &'static str,
    pub message: &'a str,
}

impl<'a> FieldError<'a> {
    /// The API's refusal `message`, if any, placed at the field of the first `(word, field)` whose word it
    /// mentions (case aside), or at `otherwise`.
    pub fn at(
        message: Option<&'a str>,
        words: &[(&str, &'static str)],
        otherwise: &'static str,
    ) -> Option<FieldError<'a>> {
        message.map(|message| {
            let lower = message.to_ascii_lowercase();
            let field = words
                .iter()
                .find(|(word, _)| lower.contains(word))
                .map_or(otherwise, |(_, field)| *field);
            FieldError { field, message }
        })
    }
}

/// The error next to the field `name`, when it is about that field.
pub fn field_error(error: Option<&FieldError>, name: &str) -> Markup {
    html! {
        @if let Some(error) = error.filter(|e| e.field == name) {
            p.error id={(name) "-error"} role="alert" { (error.message) }
        }
    }
}

/// A form page shown again with the API's refusal next to its field.
pub fn form_refused(page: Markup) -> Response {
    (http::StatusCode::BAD_REQUEST, page).into_response()
}

/// The hidden CSRF field of a form.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
}

/// A body as text when it is UTF-8, else as hex.
pub fn body_text(text: Option<&str>, base64: Option<&str>) -> Markup {
    use base64::Engine;
    match (text, base64) {
        (Some(text), _) => html! { pre.body { (text) } },
        (None, Some(encoded)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_default();
            let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            html! { p.hint { "Binary body, " (bytes.len()) " bytes, as hex:" } pre.body { (hex.join(" ")) } }
        }
        _ => html! { p.hint { "(empty body)" } },
    }
}

/// Header names and values as a definition list (values as the API shows them, so redacted ones stay so).
pub fn headers(header: &wire::HeaderMap) -> Markup {
    if header.is_empty() {
        return html! { p.hint { "(no headers)" } };
    }
    html! {
        dl.headers {
            @for (name, values) in header {
                @for value in values { dt { (name) } dd { (value) } }
            }
        }
    }
}

/// What a message asks of its destination: method and URL, headers, body.
pub fn request(m: &wire::Message) -> Markup {
    html! {
        p.mono { strong { (m.method) } " " (m.url) }
        (headers(&m.header))
        (body_text(m.body.body.as_deref(), m.body.body_base64.as_deref()))
    }
}

/// An empty list's explanation and what to do about it.
/// `n` with thousands separators: 50,000.
pub fn grouped(n: i64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && c != '-' && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

pub fn empty(what: &str, todo: Markup) -> Markup {
    html! { div.empty { p { (what) } p { (todo) } } }
}

/// The content security policy: only this server's own script and styles, no framing.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let pairs = [
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        ("x-content-type-options", "nosniff"),
    ];
    for (name, value) in pairs {
        headers.insert(name, http::HeaderValue::from_static(value));
    }
    response
}
