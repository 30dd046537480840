//! Messages (spec §4): read, list, cancel one, cancel in bulk.

use crate::api::openapi::params::{CancelQuery, Filters, MessageFilters, MessageListQuery, Paging};
use crate::wire::{Cancelled, Message, MessagePage};

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
        `messageIds` take precedence over other filters.",
    params(Filters, MessageFilters, CancelQuery),
    request_body(content = Option<crate::api::request::BulkBody>, description = "Filters as JSON, instead of the query",
        example = json!({"messageIds": ["msg_1", "msg_2"]})),
    responses((status = 200, description = "How many were canceled", body = Cancelled, example = json!({"cancelled": 2})))
)]
pub fn cancel_many() {}
