//! Message and response bodies on the wire: text when the bytes are UTF-8, base64 otherwise.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// A body as the Message and DLQ objects show it (spec §4.1): `body` when it is UTF-8, `bodyBase64`
/// otherwise, nothing when it is empty.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Body {
    /// The body, when it is valid UTF-8 (or `REDACTED:<sha256>` when `Upstash-Redact-Fields` hides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body in base64, instead of `body` when it is not UTF-8.
    #[serde(rename = "bodyBase64", default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl Body {
    pub fn of(bytes: &[u8]) -> Body {
        let (body, body_base64) = text_or_base64(bytes);
        Body { body, body_base64 }
    }

    /// What a redacted body shows instead of its bytes.
    pub fn hidden(hash: String) -> Body {
        Body {
            body: Some(hash),
            body_base64: None,
        }
    }
}

/// (text, base64): one of them for a non-empty body, neither for an empty one.
pub(crate) fn text_or_base64(bytes: &[u8]) -> (Option<String>, Option<String>) {
    if bytes.is_empty() {
        return (None, None);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(text.to_string()), None),
        Err(_) => (None, Some(STANDARD.encode(bytes))),
    }
}
