//! URL groups (spec §6), queues (§7), flow-control keys (§8), signing keys (§11.1) and health.

/// A URL group ("topic"): publishing to it creates one message per endpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UrlGroup {
    /// The group's name (letters, digits, `-`, `_`, `.`): publish to it as the destination.
    pub name: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
    /// In the order they were added.
    pub endpoints: Vec<Endpoint>,
    /// Default headers for every publish to the group (`PATCH /v2/topics/{name}`): `Upstash-*` names are
    /// options, others are forwarded to the endpoints; a publish's own header wins. Absent when none are set.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Endpoint {
    /// Where each message of the group goes.
    pub url: String,
    /// The endpoint's name in the group, if it was given one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A FIFO queue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    /// The queue's name: enqueue with `POST /v2/enqueue/{name}/{destination}`.
    pub name: String,
    /// Most of its messages delivered at once.
    pub parallelism: i32,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
    /// Messages not yet delivered or dead-lettered.
    pub lag: i64,
    /// A paused queue accepts messages and delivers none.
    pub paused: bool,
}

/// A flow-control key and its use now (every field, always: Python defaults missing ones).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowControlInfo {
    /// The key, as given in `Upstash-Flow-Control-Key`.
    pub flow_control_key: String,
    /// Messages waiting for the key's limits.
    pub wait_list_size: i64,
    /// Most deliveries in flight at once; 0 for no limit.
    pub parallelism_max: i32,
    /// Deliveries in flight now.
    pub parallelism_count: i64,
    /// Most deliveries per period; 0 for no limit.
    pub rate_max: i32,
    /// Deliveries in the current period.
    pub rate_count: i32,
    /// The period, seconds.
    pub rate_period: i64,
    /// When the current period started, Unix seconds.
    pub rate_period_start: i64,
    /// A paused key delivers nothing until it is resumed.
    pub is_paused: bool,
    /// Whether later messages leave the parallelism alone.
    pub is_pinned_parallelism: bool,
    /// Whether later messages leave the rate alone.
    pub is_pinned_rate: bool,
}

/// `GET /v2/globalParallelism`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GlobalParallelism {
    /// This instance's limit on deliveries in flight.
    pub parallelism_max: i64,
    /// Deliveries in flight on every instance sharing the database.
    pub parallelism_count: i64,
}

/// The signing keys: deliveries are signed with `current`; receivers also accept `next`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SigningKeys {
    /// The key deliveries are signed with now.
    pub current: String,
    /// The key that becomes current at the next rotation.
    pub next: String,
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or what is not ready.
    pub status: String,
    /// Each readiness check: `ok` or what failed (`/readyz` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<std::collections::BTreeMap<String, String>>,
}
