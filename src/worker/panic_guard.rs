//! Keeps a panic inside one delivery attempt from leaking: the attempt becomes a failure like any other, so
//! the message is retried or dead-lettered instead of staying in flight (ACTIVE) for ever.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use crate::domain::ids::new_dlq_id;
use crate::domain::retry::default_backoff_ms;
use crate::store::{Completion, CompletionKind, DeadLetter, Message};

/// What the log and the DLQ say about an attempt that panicked; the panic itself goes to the log.
const PANICKED: &str = "internal error while delivering (the attempt panicked)";

/// Runs `attempt`; if it panics, answers the completion of a failed attempt without a response.
pub async fn unwind_to_failure(
    message: &Message,
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
fn failed_attempt(message: &Message, now: i64) -> Completion {
    let last = message.attempt > message.max_retries;
    let kind = if last {
        CompletionKind::Failed(DeadLetter {
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
        queued: message.is_queued(),
        status: 0,
        error: Some(PANICKED.into()),
        response: None,
        spawn: Vec::new(),
        fails_run: message.run_of_step().filter(|_| last).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(attempt: i32, max_retries: i32) -> Message {
        Message {
            attempt,
            max_retries,
            queue_name: Some("q".into()),
            ..Message::in_flight_to("msg_1", "example.com")
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
