//! The gate in front of the console: the guard every page passes (a session, or sign-in; a CSRF token and
//! the full token's role for every change), and the sign-in and sign-out pages. The session cookie itself
//! is `session`'s.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::html;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::session::{
    cookie_header, issue, same_origin, session_cookie, verify, Session, CSRF_FIELD, MAX_FORM_BYTES, SESSION_MS,
};
use super::{layout, Console, ConsoleState};
use crate::api::auth::{role_of, Role};
use crate::state::AppState;

/// In front of every console page: finds the session (or, in dev, opens one), sends others to sign-in,
/// and lets a state-changing request through only with the session's CSRF token and the full token's role.
pub async fn guard(
    State(app): State<AppState>,
    State(console): State<Arc<Console>>,
    request: Request,
    next: Next,
) -> Response {
    let now = app.clock.now_ms();
    let key = &console.session_key;
    let found = session_cookie(request.headers()).and_then(|v| verify(key, v, now));
    let changes = !crate::api::auth::reads_only(request.method());
    let (session, new_cookie) = match found {
        Some(session) => (session, None),
        // Dev: the token is public anyway; a session is still opened so forms carry a CSRF token.
        None if console.open_without_sign_in && !changes => {
            let value = issue(key, Role::Admin, now);
            let session = verify(key, &value, now).expect("a fresh cookie verifies");
            (session, Some(value))
        }
        None if changes => return layout::refusal(http::StatusCode::FORBIDDEN, "Sign in first (no session)."),
        None => return Redirect::to("/console/sign-in").into_response(),
    };
    let request = if changes {
        if !session.may_change() {
            return layout::refusal(
                http::StatusCode::FORBIDDEN,
                "You are signed in with the read-only token: it cannot change anything.",
            );
        }
        match checked_csrf(request, &session).await {
            Ok(request) => request,
            Err(response) => return response,
        }
    } else {
        request
    };
    let mut request = request;
    request.extensions_mut().insert(session);
    let mut response = next.run(request).await;
    if let Some(value) = new_cookie {
        if let Ok(header) = cookie_header(&value, SESSION_MS / 1000).parse() {
            response.headers_mut().append(http::header::SET_COOKIE, header);
        }
    }
    response
}

/// The request again (its body read once) if it carries the session's CSRF token and a same-site Origin.
async fn checked_csrf(request: Request, session: &Session) -> Result<Request, Response> {
    let refused = || layout::refusal(http::StatusCode::FORBIDDEN, "Refused: missing or wrong CSRF token.");
    if !same_origin(request.headers()) {
        return Err(refused());
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| layout::refusal(http::StatusCode::PAYLOAD_TOO_LARGE, "The form is too large."))?;
    let from_header = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let presented = from_header.or_else(|| {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == CSRF_FIELD)
            .map(|(_, v)| v.into_owned())
    });
    match presented {
        Some(token) if bool::from(token.as_bytes().ct_eq(session.csrf.as_bytes())) => {
            Ok(Request::from_parts(parts, axum::body::Body::from(body)))
        }
        _ => Err(refused()),
    }
}

pub fn router() -> Router<ConsoleState> {
    Router::new()
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", axum::routing::post(sign_out))
}

fn sign_in_form(error: Option<&str>) -> maud::Markup {
    layout::bare(
        "Sign in",
        html! {
            form.card.narrow method="post" action="/console/sign-in" {
                h1 { "Postdate console" }
                label for="token" { "Token" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus
                    aria-invalid=[error.map(|_| "true")] aria-describedby="token-error";
                @if let Some(error) = error { p.error #token-error role="alert" { (error) } }
                p.hint { "The QSTASH_TOKEN of this server, or its read-only token (POSTDATE_READONLY_TOKEN)." }
                button.primary type="submit" { "Sign in" }
            }
        },
    )
}

async fn sign_in_page() -> maud::Markup {
    sign_in_form(None)
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

async fn sign_in(
    State(app): State<AppState>,
    State(console): State<Arc<Console>>,
    headers: http::HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    if !same_origin(&headers) {
        return layout::refusal(http::StatusCode::FORBIDDEN, "Refused: cross-site sign-in.");
    }
    let Some(role) = role_of(&app, form.token.trim()) else {
        let page = sign_in_form(Some("That token is not accepted here."));
        return (http::StatusCode::UNAUTHORIZED, page).into_response();
    };
    let value = issue(&console.session_key, role, app.clock.now_ms());
    let mut response = Redirect::to("/console/").into_response();
    if let Ok(header) = cookie_header(&value, SESSION_MS / 1000).parse() {
        response.headers_mut().append(http::header::SET_COOKIE, header);
    }
    response
}

async fn sign_out() -> Response {
    let mut response = Redirect::to("/console/sign-in").into_response();
    if let Ok(header) = cookie_header("", 0).parse() {
        response.headers_mut().append(http::header::SET_COOKIE, header);
    }
    response
}
