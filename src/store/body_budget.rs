//! Splits messages for insertion so that one statement never binds more than a few MiB of bodies: the
//! messages of a URL-group fan-out share one body in memory, but each statement copies its bodies into its
//! bind buffer, so an unsplit fan-out of a 1 MiB body to 1,000 endpoints would need a GiB at once.

use crate::domain::message::NewMessage;

/// Bodies bound by one insert statement, at most (a single larger message still goes alone).
pub(crate) const STATEMENT_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Consecutive runs of `messages`, in order, each holding at most `budget` bytes of bodies or one message.
pub(crate) fn by_body_bytes(messages: &[NewMessage], budget: usize) -> impl Iterator<Item = &[NewMessage]> {
    let mut rest = messages;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut len = 0;
        for m in rest {
            bytes += m.body.len();
            if len > 0 && bytes > budget {
                break;
            }
            len += 1;
        }
        let (run, tail) = rest.split_at(len);
        rest = tail;
        Some(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::destination::DestinationUrl;
    use crate::domain::option_rules::Limits;
    use crate::domain::options::MessageOptions;

    fn message(body_len: usize) -> NewMessage {
        let limits = Limits {
            default_retries: 0,
            max_retries: 0,
            max_delay_ms: 0,
            max_timeout_ms: 1,
        };
        let url = DestinationUrl::parse("https://example.com/").unwrap();
        let body = bytes::Bytes::from(vec![b'x'; body_len]);
        NewMessage::build(url, &MessageOptions::default(), body, None, 0, &limits).unwrap()
    }

    #[test]
    fn runs_stay_within_the_budget_cover_everything_in_order_and_never_drop_a_large_message() {
        let messages: Vec<NewMessage> = [3, 3, 3, 10, 1, 1, 0, 4].into_iter().map(message).collect();
        let runs: Vec<Vec<usize>> = by_body_bytes(&messages, 6)
            .map(|run| run.iter().map(|m| m.body.len()).collect())
            .collect();
        assert_eq!(runs, vec![vec![3, 3], vec![3], vec![10], vec![1, 1, 0, 4]]);
        let ids: Vec<&str> = by_body_bytes(&messages, 6).flatten().map(|m| m.id.as_str()).collect();
        let expected: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, expected);
        assert_eq!(by_body_bytes(&[], 6).count(), 0);
    }
}
