//! The answers of operations: publish, cancel, delete, retry, and errors (spec §3, §4, §9, §13).

/// One message a publish created (or, with `deduplicated`, the earlier publish it repeats).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    /// The new message's id.
    pub message_id: String,
    /// The destination URL (for a URL group, the endpoint's).
    pub url: String,
    /// Present (true) when an earlier publish with the same deduplication id or content was answered
    /// instead; nothing new was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deduplicated: Option<bool>,
}

/// The answer of a publish (and of each batch item): an object for a URL, an array (one element per
/// endpoint) for a URL group.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PublishAnswer {
    Url(Published),
    UrlGroup(Vec<Published>),
}

/// How many messages a cancel stopped.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Cancelled {
    /// Messages canceled (or, when in flight, asked to stop after this attempt).
    pub cancelled: u64,
}

/// How many DLQ entries a delete removed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Deleted {
    /// Entries removed.
    pub deleted: u64,
    /// A bulk delete by filter acts on one page: pass this `cursor` for the next; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// The new messages of a bulk DLQ retry, one per entry retried.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Retried {
    /// One new message per entry retried.
    pub responses: Vec<RetriedMessage>,
    /// A bulk retry by filter acts on one page: pass this `cursor` for the next; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// The message a DLQ entry became.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetriedMessage {
    /// The new message's id.
    pub message_id: String,
}

/// A message "Run now" made due (`POST /v2/messages/{id}/retry`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunNow {
    pub message_id: String,
    /// When it is due: now (Unix ms).
    pub next_delivery_time: i64,
}

/// The answer of operations that report nothing: `{}`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Empty {}

/// Every error (spec §13).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person to read.
    pub error: String,
}
