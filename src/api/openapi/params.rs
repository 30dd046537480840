//! Query parameters shared by the lists and bulk operations (spec §4.3, §9.1, §10.1). The handlers refuse
//! any key they do not list, so a misspelt filter never widens a bulk operation.

#![allow(dead_code)] // The fields only describe parameters; nothing reads them.

/// Filters every list and bulk operation takes. Repeat a key, or separate values with commas, to match any
/// of several values; different keys must all match.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filters {
    /// Destination URL, exactly.
    url: Option<Vec<String>>,
    /// URL group the message was published to.
    #[param(rename = "topicName")]
    topic_name: Option<Vec<String>>,
    /// Queue the message was enqueued to.
    #[param(rename = "queueName")]
    queue_name: Option<Vec<String>>,
    /// Schedule that created the message.
    #[param(rename = "scheduleId")]
    schedule_id: Option<Vec<String>>,
    /// One of the message's labels (`Upstash-Label`).
    label: Option<Vec<String>>,
    /// Flow-control key of the message.
    #[param(rename = "flowControlKey")]
    flow_control_key: Option<Vec<String>>,
    /// Address the message was published from (`callerIP` is accepted too).
    #[param(rename = "callerIp")]
    caller_ip: Option<Vec<String>>,
    /// Created at or after this time, Unix milliseconds.
    #[param(rename = "fromDate", example = 1767225600000_i64)]
    from_date: Option<i64>,
    /// Created at or before this time, Unix milliseconds.
    #[param(rename = "toDate", example = 1767312000000_i64)]
    to_date: Option<i64>,
}

/// Filters of messages and logs besides [`Filters`].
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageFilters {
    /// Message ids; they take precedence over every other filter in a bulk cancel.
    #[param(rename = "messageIds")]
    message_ids: Option<Vec<String>>,
    /// Destination host, e.g. `example.com` or `127.0.0.1:8080`.
    host: Option<Vec<String>>,
    /// Destination path, e.g. `/hooks/order`.
    path: Option<Vec<String>>,
}

/// Order of a page.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
pub enum Order {
    EarliestFirst,
    LatestFirst,
}

/// Cursor paging: pass the `cursor` of an answer to get the next page; the last page has none.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// The `cursor` of the previous page. A filtered page looks at no more than 50,000 rows past its
    /// cursor, so it can hold fewer than `count` rows, or none, and still have a cursor: follow cursors
    /// until an answer has none.
    cursor: Option<String>,
    /// Page size: default 100; at most 1000 (100 for the DLQ).
    #[param(minimum = 1, maximum = 1000)]
    count: Option<i64>,
    /// `earliestFirst` (default; for logs `latestFirst`) or `latestFirst`.
    #[param(inline)]
    order: Option<Order>,
}

/// A log state, or `IN_PROGRESS` (ACTIVE, RETRY or ERROR), or `CANCELLED` (QStash's spelling of CANCELED).
fn log_state_filter() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    use utoipa::openapi::Ref;
    OneOfBuilder::new()
        .description(Some(
            "One state; `IN_PROGRESS` matches ACTIVE, RETRY and ERROR, `CANCELLED` is CANCELED.",
        ))
        .item(Ref::from_schema_name("LogState"))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["IN_PROGRESS", "CANCELLED"])),
        )
        .build()
        .into()
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageListQuery {
    /// One message id.
    #[param(rename = "messageId")]
    message_id: Option<String>,
    /// States to list (repeat or separate with commas).
    state: Option<Vec<crate::domain::state::ShownState>>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DlqQuery {
    /// DLQ entry ids.
    #[param(rename = "dlqIds")]
    dlq_ids: Option<Vec<String>>,
    /// The id of the failed message.
    #[param(rename = "messageId")]
    message_id: Option<String>,
    /// Destination host, e.g. `example.com` or `127.0.0.1:8080`.
    host: Option<Vec<String>>,
    /// HTTP status of the last attempt.
    #[param(rename = "responseStatus", example = 500)]
    response_status: Option<Vec<i32>>,
    /// `workflow`: only the entries of Upstash Workflow steps (the Workflow SDK's `client.dlq.list`).
    #[param(example = "workflow")]
    source: Option<String>,
    /// The entries of these workflow runs.
    #[param(rename = "workflowRunId")]
    workflow_run_id: Option<Vec<String>>,
    /// The failed message's destination (the Workflow SDK's name for `url`).
    #[param(rename = "workflowUrl")]
    workflow_url: Option<Vec<String>>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// One message id.
    #[param(rename = "messageId")]
    message_id: Option<String>,
    #[param(schema_with = log_state_filter)]
    state: Option<String>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CancelQuery {
    /// Accepted and ignored: a bulk cancel finishes in one call.
    count: Option<i64>,
    /// `true`: answer 202 `{"actionId"}` at once and cancel in the background (also `"async": true` in
    /// the body).
    #[param(rename = "async")]
    run_async: Option<bool>,
}
