//! Field groups that several answers share, each flattened into its answer where its fields stood, so the
//! JSON is the same as when every answer spelled them out.

use super::HeaderMap;
use crate::domain::callback::Callback;

/// A message's labels, or those a schedule gives each message it fires.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Labels {
    /// The first label (deprecated: read `labels`).
    #[serde(rename = "label", default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// Every label, in the order given.
    #[serde(rename = "labels", default, skip_serializing_if = "Vec::is_empty")]
    pub all: Vec<String>,
}

impl Labels {
    pub fn of(labels: &[String]) -> Labels {
        Labels {
            first: labels.first().cloned(),
            all: labels.to_vec(),
        }
    }
}

/// Where the results of a message's attempts are posted (or those of each message a schedule fires).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Callbacks {
    /// Called after each attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// Headers the callback request carries.
    #[serde(default, skip_serializing_if = "HeaderMap::is_empty")]
    pub callback_header: HeaderMap,
    /// Called once after the final failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_callback: Option<String>,
    /// Headers the failure callback request carries.
    #[serde(default, skip_serializing_if = "HeaderMap::is_empty")]
    pub failure_callback_header: HeaderMap,
}

impl Callbacks {
    pub fn of(callback: &Option<Callback>, failure_callback: &Option<Callback>) -> Callbacks {
        let url = |cb: &Option<Callback>| cb.as_ref().map(|cb| cb.url.clone());
        let header = |cb: &Option<Callback>| cb.as_ref().map(|cb| cb.header.clone()).unwrap_or_default();
        Callbacks {
            callback: url(callback),
            callback_header: header(callback),
            failure_callback: url(failure_callback),
            failure_callback_header: header(failure_callback),
        }
    }
}

/// Where a message came from and what it waits in: its URL group and endpoint, queue, schedule and
/// flow-control key.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Routing {
    /// The URL group it was published to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// The endpoint's name in its URL group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_name: Option<String>,
    /// The queue it waits in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    /// The schedule that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    /// The flow-control key whose limits it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_control_key: Option<String>,
}

impl Routing {
    pub fn of(m: &crate::store::Message) -> Routing {
        Routing {
            topic_name: m.topic_name.clone(),
            endpoint_name: m.endpoint_name.clone(),
            queue_name: m.queue_name.clone(),
            schedule_id: m.schedule_id.as_ref().map(ToString::to_string),
            flow_control_key: m.flow_control_key.clone(),
        }
    }
}
