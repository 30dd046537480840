//! The JSON request bodies of the REST API, parsed by the handlers and built by the command-line client and
//! the console. Unknown fields are refused: a typo would otherwise act without the setting it meant.

use serde::{Deserialize, Serialize};

// `POST /v2/queues`: create or update a queue (spec §7).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueUpsert {
    /// Letters, digits, `-`, `_` and `.`.
    pub queue_name: String,
    /// Deliveries in flight at most, 1 to 1000; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
}

// `POST` and `DELETE /v2/topics/{name}/endpoints`: the endpoints to add or remove (spec §6).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointsBody {
    pub endpoints: Vec<EndpointRequest>,
}

// `PATCH /v2/topics/{name}`: the group's default headers (webhook-receiver mode), replacing any set before;
// `{}` removes them. A value is one string or a list of strings.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupHeadersBody {
    pub headers: std::collections::BTreeMap<String, HeaderValues>,
}

// One header value, or several.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum HeaderValues {
    One(String),
    Many(Vec<String>),
}

impl HeaderValues {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            HeaderValues::One(value) => vec![value],
            HeaderValues::Many(values) => values,
        }
    }
}

// One endpoint of a URL group, by URL or by name.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl EndpointRequest {
    pub fn url(url: impl Into<String>) -> EndpointRequest {
        EndpointRequest {
            url: Some(url.into()),
            name: None,
        }
    }

    pub fn name(name: impl Into<String>) -> EndpointRequest {
        EndpointRequest {
            url: None,
            name: Some(name.into()),
        }
    }
}

// Cancel (spec §4.3), DLQ delete and retry (§9.4, §9.5).
/// The JSON-body style of bulk requests (Python `cancel_many`, `delete_many`, older docs).
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    #[serde(
        default,
        rename = "callerIP",
        alias = "callerIp",
        skip_serializing_if = "Option::is_none"
    )]
    pub caller_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_date: Option<i64>,
    /// Bulk cancel only: `true` answers `{"actionId"}` at once (202) and cancels in the background.
    #[serde(default, rename = "async", skip_serializing_if = "Option::is_none")]
    pub run_async: Option<bool>,
}

impl BulkBody {
    /// `{"messageIds": [...]}`.
    pub fn message_ids(ids: &[impl ToString]) -> BulkBody {
        BulkBody {
            message_ids: Some(ids.iter().map(ToString::to_string).collect()),
            ..BulkBody::default()
        }
    }

    /// `{"dlqIds": [...]}`.
    pub fn dlq_ids(ids: &[impl ToString]) -> BulkBody {
        BulkBody {
            dlq_ids: Some(ids.iter().map(ToString::to_string).collect()),
            ..BulkBody::default()
        }
    }
}

// One item of `POST /v2/batch` (spec §3.3).
/// Unknown fields are refused: a typo such as `"header"` would otherwise publish without its settings.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    /// Destination URL or URL group name.
    pub destination: String,
    /// The option headers of a publish (`Upstash-Delay`, `Upstash-Forward-<Name>`, `Content-Type`, …).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// The body to deliver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Enqueue to this queue instead of publishing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
}
