//! Sessions. The session cookie (HttpOnly, SameSite=Strict) holds a role, an expiry and a
//! random nonce, signed with HMAC under a key derived from the configured tokens: no token travels in it,
//! any instance with the same tokens accepts it (no server-side store), and changing a token ends every
//! session. Every state-changing request needs the CSRF token derived from the session's nonce (a
//! synchronizer token in each form, or the `X-CSRF-Token` header), and an `Origin`, when sent, of this host.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::auth::Role;

pub const COOKIE: &str = "postdate_console";
/// The form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
/// How long a session lasts.
pub(super) const SESSION_MS: i64 = 12 * 3600 * 1000;
/// Largest form the guard reads to find the CSRF token.
pub(super) const MAX_FORM_BYTES: usize = 1 << 20;

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
pub(super) fn issue(key: &[u8; 32], role: Role, now_ms: i64) -> String {
    let nonce = hex(&rand::random::<[u8; 16]>());
    let expires = (now_ms + SESSION_MS).to_string();
    let signature = mac(key, &["session", role_name(role), &expires, &nonce]);
    format!("{}.{expires}.{nonce}.{signature}", role_name(role))
}

/// The session of a cookie value, if its signature holds and it has not expired.
pub(super) fn verify(key: &[u8; 32], value: &str, now_ms: i64) -> Option<Session> {
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

pub(super) fn cookie_header(value: &str, max_age_secs: i64) -> String {
    format!("{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}")
}

pub(super) fn session_cookie(headers: &http::HeaderMap) -> Option<&str> {
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
pub(super) fn same_origin(headers: &http::HeaderMap) -> bool {
    let Some(origin) = headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(http::header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
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
