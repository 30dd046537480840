//! The `Upstash-Signature` JWT (spec §11): HS256, seven claims, url-safe body hash, fresh per attempt.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A token lives five minutes, as Upstash's do.
const LIFETIME_SECS: i64 = 300;

/// The key pair: deliveries are signed with `current`; receivers fall back to `next` (spec §11.3).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeys {
    pub current: String,
    pub next: String,
}

impl std::fmt::Debug for SigningKeys {
    // Keys are secrets: never print them, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKeys { .. }")
    }
}

/// Claims in the order Upstash writes them (field order is the JSON order).
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'static str,
    sub: &'a str,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: &'a str,
    body: String,
}

/// Signs one request to `url` carrying `body`, issued at `iat_secs`. `nbf` is 0, as Upstash emits.
pub fn sign(key: &str, url: &str, body: &[u8], iat_secs: i64, jti: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = Claims {
        iss: "Upstash",
        sub: url,
        exp: iat_secs + LIFETIME_SECS,
        nbf: 0,
        iat: iat_secs,
        jti,
        body: body_hash(body),
    };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialise"));
    let signing_input = format!("{header}.{payload}");
    format!("{signing_input}.{}", hs256(key, &signing_input))
}

/// `base64url(SHA-256(body))` with padding, as Upstash sends it; both SDKs strip `=` before comparing.
pub fn body_hash(body: &[u8]) -> String {
    URL_SAFE.encode(Sha256::digest(body))
}

/// The `webhook-signature` header of Standard Webhooks: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under the secret's key bytes.
pub fn standard_webhooks_signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::engine::general_purpose::STANDARD;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A Standard Webhooks secret, `whsec_` followed by base64 key bytes.
pub fn standard_webhooks_key(secret: &str) -> Result<Vec<u8>, String> {
    use base64::engine::general_purpose::STANDARD;
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    match STANDARD.decode(encoded) {
        Ok(key) if key.len() >= 16 => Ok(key),
        _ => Err("the Standard Webhooks secret must be whsec_ followed by at least 16 base64-encoded bytes".into()),
    }
}

fn hs256(key: &str, input: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec §11.5: the test vector verified by both SDK receivers (with `nbf` = `iat`).
    #[test]
    fn reproduces_the_spec_test_vector_byte_for_byte() {
        let key = "sig_ExampleCurrentKey0000000001";
        assert_eq!(
            body_hash(br#"{"hello":"world"}"#),
            "k6I5cakU5erL8KjSUVTNownDwccvu5kU1Hxg88toFYg="
        );
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = Claims {
            iss: "Upstash",
            sub: "https://example.com/api/hook",
            exp: 1_700_000_300,
            nbf: 1_700_000_000,
            iat: 1_700_000_000,
            jti: "jwt_0123456789abcdef",
            body: body_hash(br#"{"hello":"world"}"#),
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let input = format!("{header}.{payload}");
        assert_eq!(
            format!("{input}.{}", hs256(key, &input)),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJVcHN0YXNoIiwic3ViIjoiaHR0cHM6Ly9leGFtcGxlLmNvbS9hcGkvaG9vayIsImV4cCI6MTcwMDAwMDMwMCwibmJmIjoxNzAwMDAwMDAwLCJpYXQiOjE3MDAwMDAwMDAsImp0aSI6Imp3dF8wMTIzNDU2Nzg5YWJjZGVmIiwiYm9keSI6Ims2STVjYWtVNWVyTDhLalNVVlROb3duRHdjY3Z1NWtVMUh4Zzg4dG9GWWc9In0.tHcrNJ9YETIaanniEuqKOsKDSJjlxMqvRkmEUno0ZIA"
        );
    }

    #[test]
    fn tokens_carry_all_seven_claims_and_the_url_safe_empty_body_hash() {
        let token = sign("sig_k", "https://x.test/a?b=1", b"", 1_700_000_000, "jwt_1");
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["iss"], "Upstash");
        assert_eq!(claims["sub"], "https://x.test/a?b=1");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_000_300);
        assert_eq!(claims["nbf"], 0);
        assert_eq!(claims["jti"], "jwt_1");
        assert_eq!(claims["body"], "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn standard_webhooks_signatures_follow_the_specification() {
        // Example from the Standard Webhooks specification's reference libraries.
        let key = standard_webhooks_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = standard_webhooks_signature(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(standard_webhooks_key("whsec_###").is_err());
        assert!(standard_webhooks_key("whsec_c2hvcnQ=").is_err(), "too short");
    }

    #[test]
    fn debug_output_hides_the_keys() {
        let keys = SigningKeys {
            current: "sig_secret1".into(),
            next: "sig_secret2".into(),
        };
        assert!(!format!("{keys:?}").contains("secret"));
    }
}
