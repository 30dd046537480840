//! Keeps a panic inside one delivery attempt from leaking: the attempt becomes a failure like any other, so
//! the message is retried or dead-lettered instead of staying in flight (ACTIVE) for ever.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use crate::domain::ids::new_dlq_id;
use crate::domain::retry::default_backoff_ms;
use crate::store::{Completion, CompletionKind, DlqEntry, MessageRow};

/// What the log and the DLQ say about an attempt that panicked; the panic itself goes to the log.
const PANICKED: &str = "internal error while delivering (the attempt panicked)";

/// Runs `attempt`; if it panics, answers the completion of a failed attempt without a response.
pub async fn unwind_to_failure(
    message: &MessageRow,
    attempt: impl Future<Output = Completion>,
    now_ms: impl Fn() -> i64,
) -> Completion {
    match AssertUnwindSafe(attempt).catch_unwind().await {
        Ok(completion) => completion,
        Err(_) => {
            tracing::error!(message_id = %message.id, attempt = message.attempt, "delivery attempt panicked");
            failed_attempt(message, now_ms())
        }
    }
}

/// A failed attempt with no response: retried after the default backoff while attempts remain.
fn failed_attempt(message: &MessageRow, now: i64) -> Completion {
    let kind = if message.attempt > message.max_retries {
        CompletionKind::Failed(DlqEntry {
            dlq_id: new_dlq_id(now),
            response_status: 0,
            response_header: Default::default(),
            response_body: Vec::new(),
            error: Some(PANICKED.into()),
        })
    } else {
        CompletionKind::Retry {
            due_at: now.saturating_add(default_backoff_ms(message.attempt)),
        }
    };
    Completion {
        id: message.id.clone(),
        attempt: message.attempt,
        kind,
        queued: message.queue_name.is_some() || message.flow_control_key.is_some(),
        status: 0,
        error: Some(PANICKED.into()),
        spawn: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(attempt: i32, max_retries: i32) -> MessageRow {
        MessageRow {
            id: "msg_1".into(),
            state: "in_progress".into(),
            attempt,
            max_retries,
            due_at: 0,
            lease_until: None,
            cancel_requested: false,
            url: "https://example.com".into(),
            url_host: "example.com".into(),
            url_path: "/".into(),
            method: "POST".into(),
            header: "{}".into(),
            body: Vec::new(),
            timeout_ms: None,
            retry_delay_expression: None,
            not_before: 0,
            created_at: 0,
            updated_at: 0,
            finished_at: None,
            caller_ip: None,
            labels: None,
            topic_name: None,
            endpoint_name: None,
            queue_name: Some("q".into()),
            schedule_id: None,
            flow_control_key: None,
            callback: None,
            failure_callback: None,
            queue_order: None,
            redact: None,
        }
    }

    async fn panicking() -> Completion {
        panic!("a bug in one delivery")
    }

    #[tokio::test]
    async fn a_panicking_attempt_is_retried_while_attempts_remain() {
        let completion = unwind_to_failure(&message(1, 3), panicking(), || 1_000).await;
        assert!(
            matches!(completion.kind, CompletionKind::Retry { due_at } if due_at == 1_000 + default_backoff_ms(1)),
            "{completion:?}"
        );
        assert_eq!(
            (completion.id.as_str(), completion.attempt, completion.status),
            ("msg_1", 1, 0)
        );
        assert!(completion.queued, "the queue's next message may go");
        assert_eq!(completion.error.as_deref(), Some(PANICKED));
    }

    #[tokio::test]
    async fn a_panicking_last_attempt_is_dead_lettered() {
        let completion = unwind_to_failure(&message(4, 3), panicking(), || 1_000).await;
        match completion.kind {
            CompletionKind::Failed(entry) => assert_eq!(entry.error.as_deref(), Some(PANICKED)),
            other => panic!("expected a DLQ entry, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_attempt_that_finishes_is_passed_through() {
        let done = failed_attempt(&message(1, 0), 5);
        let completion = unwind_to_failure(&message(1, 0), async { done }, || 9).await;
        assert!(matches!(completion.kind, CompletionKind::Failed(_)));
    }
}
