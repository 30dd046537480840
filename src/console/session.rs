//! Sign-in and sessions. The session cookie (HttpOnly, SameSite=Strict) holds a role, an expiry and a
//! random nonce, signed with HMAC under a key derived from the configured tokens: no token travels in it,
//! any instance with the same tokens accepts it (no server-side store), and changing a token ends every
//! session. Every state-changing request needs the CSRF token derived from the session's nonce (a
//! synchronizer token in each form, or the `X-CSRF-Token` header), and an `Origin`, when sent, of this host.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use hmac::{Hmac, Mac};
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::layout;
use crate::api::auth::{role_of, Role};
use crate::api::AppState;

pub const COOKIE: &str = "postdate_console";
/// The form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
/// How long a session lasts.
const SESSION_MS: i64 = 12 * 3600 * 1000;
/// Largest form the guard reads to find the CSRF token.
const MAX_FORM_BYTES: usize = 1 << 20;

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    /// The CSRF token its forms carry.
    pub csrf: String,
}

impl Session {
    pub fn may_change(&self) -> bool {
        self.role.may_change()
    }
}

pub fn key_from_tokens(token: &str, readonly_token: Option<&str>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"postdate console session key\0");
    hasher.update(token.as_bytes());
    hasher.update(b"\0");
    hasher.update(readonly_token.unwrap_or_default().as_bytes());
    hasher.finalize().into()
}

fn mac(key: &[u8; 32], parts: &[&str]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part.as_bytes());
        mac.update(b"|");
    }
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Viewer => "viewer",
    }
}

/// A new signed cookie value for `role`.
fn issue(key: &[u8; 32], role: Role, now_ms: i64) -> String {
    let nonce = hex(&rand::random::<[u8; 16]>());
    let expires = (now_ms + SESSION_MS).to_string();
    let signature = mac(key, &["session", role_name(role), &expires, &nonce]);
    format!("{}.{expires}.{nonce}.{signature}", role_name(role))
}

/// The session of a cookie value, if its signature holds and it has not expired.
fn verify(key: &[u8; 32], value: &str, now_ms: i64) -> Option<Session> {
    let mut parts = value.split('.');
    let (role, expires, nonce, signature) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let expected = mac(key, &["session", role, expires, nonce]);
    if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) || parts.next().is_some() {
        return None;
    }
    if expires.parse::<i64>().ok()? <= now_ms {
        return None;
    }
    let role = match role {
        "admin" => Role::Admin,
        "viewer" => Role::Viewer,
        _ => return None,
    };
    Some(Session {
        role,
        csrf: mac(key, &["csrf", nonce]),
    })
}

fn cookie_header(value: &str, max_age_secs: i64) -> String {
    format!("{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}")
}

fn session_cookie(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Refuses a state-changing request whose `Origin` names another site (browsers send it on every POST).
fn same_origin(headers: &http::HeaderMap) -> bool {
    let Some(origin) = headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(http::header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// In front of every console page: finds the session (or, in dev, opens one), sends others to sign-in,
/// and lets a state-changing request through only with the session's CSRF token and the full token's role.
pub async fn guard(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let now = app.clock.now_ms();
    let key = &app.console.session_key;
    let found = session_cookie(request.headers()).and_then(|v| verify(key, v, now));
    let changes = !crate::api::auth::reads_only(request.method());
    let (session, new_cookie) = match found {
        Some(session) => (session, None),
        // Dev: the token is public anyway; a session is still opened so forms carry a CSRF token.
        None if app.console.open_without_sign_in && !changes => {
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

pub fn router() -> Router<AppState> {
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

async fn sign_in(State(app): State<AppState>, headers: http::HeaderMap, Form(form): Form<SignIn>) -> Response {
    if !same_origin(&headers) {
        return layout::refusal(http::StatusCode::FORBIDDEN, "Refused: cross-site sign-in.");
    }
    let Some(role) = role_of(&app, form.token.trim()) else {
        let page = sign_in_form(Some("That token is not accepted here."));
        return (http::StatusCode::UNAUTHORIZED, page).into_response();
    };
    let value = issue(&app.console.session_key, role, app.clock.now_ms());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_verifies_only_unaltered_and_unexpired() {
        let key = key_from_tokens("token", None);
        let value = issue(&key, Role::Viewer, 1_000);
        let session = verify(&key, &value, 2_000).expect("valid");
        assert_eq!(session.role, Role::Viewer);
        assert!(!value.contains("token"));
        assert!(verify(&key, &value.replacen("viewer", "admin", 1), 2_000).is_none());
        assert!(verify(&key, &value, 1_000 + SESSION_MS).is_none());
        assert!(verify(&key_from_tokens("other", None), &value, 2_000).is_none());
        assert_eq!(verify(&key, &value, 3_000).unwrap().csrf, session.csrf);
    }

    #[test]
    fn origins_of_other_sites_are_refused() {
        let headers = |origin: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::HOST, "127.0.0.1:8080".parse().unwrap());
            h.insert(http::header::ORIGIN, origin.parse().unwrap());
            h
        };
        assert!(same_origin(&headers("http://127.0.0.1:8080")));
        assert!(!same_origin(&headers("https://evil.example")));
        assert!(!same_origin(&headers("null")));
        assert!(same_origin(&http::HeaderMap::new()));
    }
}
