//! What every option parser shares, and nothing else: the bounds a deployment puts on requests, the error
//! for an option that cannot be taken, and which headers may never be forwarded. A leaf: the parsers
//! (`options`, `callback`, `flow_control`, `redact`) import it and it imports none of them.

/// Bounds a deployment puts on what publishers may ask for.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Retries when `Upstash-Retries` is absent (QStash: 3).
    pub default_retries: i32,
    /// Larger `Upstash-Retries` values are capped to this, as QStash caps them to the plan maximum.
    pub max_retries: i32,
    /// Delays (or not-before times) further out are rejected with 400.
    pub max_delay_ms: i64,
    /// Larger `Upstash-Timeout` values are capped to this.
    pub max_timeout_ms: i64,
}

/// Bounds on how much one request may ask the server to hold: they keep peak memory a small multiple of
/// the largest request, whatever clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Items in one `/v2/batch` request.
    pub max_batch_items: usize,
    /// Bytes of one `/v2/batch` request body.
    pub max_batch_bytes: usize,
    /// Endpoints in one URL group.
    pub max_group_endpoints: usize,
    /// Messages one request may create (URL-group fan-out, summed over a batch).
    pub max_fan_out: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {header} header: {reason}")]
pub struct InvalidOption {
    pub header: String,
    pub reason: String,
}

/// The error for a header whose value cannot be taken, and why.
pub fn invalid(header: &str, reason: impl Into<String>) -> InvalidOption {
    InvalidOption {
        header: header.to_string(),
        reason: reason.into(),
    }
}

/// Headers a sender may not forward: they describe the hop, not the message, and would break the request.
const NOT_FORWARDABLE: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "content-length",
    "host",
];

/// Headers whose only use is to read a cloud metadata service (GCP, AWS IMDSv2, Azure): refused even
/// though metadata addresses are, so a mistaken allow list cannot hand out instance credentials.
const METADATA_HEADERS: [&str; 5] = [
    "metadata-flavor",
    "metadata",
    "x-google-metadata-request",
    "x-aws-ec2-metadata-token",
    "x-aws-ec2-metadata-token-ttl-seconds",
];

/// Why a header (lower-case name) may not be sent on to a destination or callback: hop-by-hop headers would
/// break the request, and `Upstash-*` / `webhook-*` names would forge the delivery metadata and signatures
/// receivers trust.
pub fn not_forwardable(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("an empty name cannot be forwarded")
    } else if NOT_FORWARDABLE.contains(&name) {
        Some("describes the connection, not the message, and cannot be forwarded")
    } else if name.starts_with("upstash-") || name.starts_with("webhook-") {
        Some("is delivery metadata set by this server and cannot be forwarded")
    } else if METADATA_HEADERS.contains(&name) {
        Some("only serves to read cloud metadata services and cannot be forwarded")
    } else {
        None
    }
}
