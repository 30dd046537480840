//! Messages (spec §4): read, list, cancel one, cancel in bulk.

use crate::api::openapi::params::{CancelQuery, Filters, MessageFilters, MessageListQuery, Paging};
use crate::wire::{BulkActionAccepted, Cancelled, ErrorBody, Message, MessagePage, RunNow};

#[utoipa::path(
    get,
    path = "/v2/messages",
    operation_id = "listMessages",
    tag = "Messages",
    summary = "List messages",
    description = "One page of the messages matching the filters (all when none is given), pending and finished \
        until retention removes them: what is waiting, and what runs next. Beyond QStash.",
    params(Filters, MessageFilters, MessageListQuery, Paging),
    responses((status = 200, description = "One page", body = MessagePage))
)]
pub fn list() {}

#[utoipa::path(
    get,
    path = "/v2/messages/{messageId}",
    operation_id = "getMessage",
    tag = "Messages",
    summary = "Get a message",
    description = "Any message, pending or finished, until retention removes it, with its state and, while \
        pending, when the next attempt is due.",
    params(("messageId" = String, Path, description = "Message id", example = "msg_26hZCxZCuWyyTWPmSVBrNCtiJEFrrrSmANjCHXzdRjzfvMJnbLaEhxeRcxjBd")),
    responses((status = 200, description = "The message", body = Message))
)]
pub fn get() {}

#[utoipa::path(
    delete,
    path = "/v2/messages/{messageId}",
    operation_id = "cancelMessage",
    tag = "Messages",
    summary = "Cancel a message",
    description = "A message not yet delivered is canceled; one in flight is canceled after this attempt. 404 for \
        an unknown message or one already finished.",
    params(("messageId" = String, Path, description = "Message id")),
    responses((status = 200, description = "Canceled", body = Cancelled, example = json!({"cancelled": 1})))
)]
pub fn cancel() {}

#[utoipa::path(
    delete,
    path = "/v2/messages",
    operation_id = "cancelMessages",
    tag = "Messages",
    summary = "Cancel messages in bulk",
    description = "Cancels the messages the filters match: in the query, or as a JSON body (not both). With no \
        filter and no body, every pending message. A blank or unknown filter is refused, never widened; \
        `messageIds` take precedence over other filters. With `async: true` (in the body, or `?async=true`) \
        the answer is 202 `{\"actionId\"}` at once: the messages selected then (and only those) are \
        canceled in the background, followed with `GET /v2/bulkActions/{actionId}`.",
    params(Filters, MessageFilters, CancelQuery),
    request_body(content = Option<crate::wire::BulkBody>, description = "Filters as JSON, instead of the query",
        example = json!({"messageIds": ["msg_1", "msg_2"]})),
    responses(
        (status = 200, description = "How many were canceled", body = Cancelled, example = json!({"cancelled": 2})),
        (status = 202, description = "Accepted with `async: true`: the action's id", body = BulkActionAccepted,
            example = json!({"actionId": "act_0Sxyz12AbCdEfGhIjKlM"}))
    )
)]
pub fn cancel_many() {}

#[utoipa::path(
    post,
    path = "/v2/messages/{messageId}/retry",
    operation_id = "runMessageNow",
    tag = "Messages",
    summary = "Run a message now",
    description = "A waiting or retrying message becomes due at once and keeps its attempt count, so its retries \
        left are unchanged (hosted QStash's \"retry\" of a message). 409 while an attempt is in flight or once \
        the message is finished: retry a failed message from the DLQ instead.",
    params(("messageId" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "Due now", body = RunNow,
            example = json!({"messageId": "msg_26hZCxZCuWyyTWPmSVBrNCtiJEFrrrSmANjCHXzdRjzfvMJnbLaEhxeRcxjBd", "nextDeliveryTime": 1767225600000_i64})),
        (status = 409, description = "In flight or finished", body = ErrorBody,
            example = json!({"error": "message \"msg_…\" is already delivered; retry a failed message from the DLQ"}))
    )
)]
pub fn run_now() {}
