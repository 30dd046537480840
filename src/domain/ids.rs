//! Typed, URL-path-safe identifiers (`msg_…`, `sig_…`, `jwt_…`, DLQ ids that sort by time).

use rand::distributions::Alphanumeric;
use rand::Rng;

/// A kind of id as a type of its own, so that one kind can never be passed where another is meant (a DLQ id
/// where a message id goes, say). Each is text underneath: it binds and decodes as text in both databases,
/// serializes as a plain JSON string, and reads as a `&str` wherever text is wanted.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[derive(serde::Serialize, serde::Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

text_id!(
    /// A message's id: `msg_` and a time-ordered suffix for the ids this server makes ([`new_message_id`]).
    MessageId
);
text_id!(
    /// A DLQ entry's id: its creation time and a random part ([`new_dlq_id`]).
    DlqId
);
text_id!(
    /// An async bulk action's id: `act_` and a time-ordered suffix ([`new_bulk_action_id`]).
    BulkActionId
);
text_id!(
    /// A schedule's id: `scd_…`, or one the client chose (path-safe).
    ScheduleId
);

fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Digits in ASCII order, so that fixed-width numbers written with them sort as text as they do as numbers.
const SORTABLE_DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` in base 62 with exactly `width` digits (62^8 ms reach past the year 8000).
fn sortable(mut n: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for digit in digits.iter_mut().rev() {
        *digit = SORTABLE_DIGITS[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(digits).expect("ASCII digits")
}

/// A new message id: `msg_` + the creation time (8 base-62 digits of Unix ms) + 18 random alphanumerics
/// (about 107 bits). Ids created later sort later, so new rows go to the end of the primary-key index
/// instead of to random pages of it, which is what keeps writes small when thousands arrive per second.
pub fn new_message_id() -> MessageId {
    message_id_at(crate::clock::system_now_ms())
}

fn message_id_at(now_ms: i64) -> MessageId {
    MessageId(format!(
        "msg_{}{}",
        sortable(now_ms.max(0) as u64, 8),
        random_alphanumeric(18)
    ))
}

/// A new bulk action id: `act_` + the creation time (8 base-62 digits of Unix ms) + 12 random
/// alphanumerics, so the list of actions, newest first, is the primary key read backwards.
pub fn new_bulk_action_id() -> BulkActionId {
    BulkActionId(format!(
        "act_{}{}",
        sortable(crate::clock::system_now_ms().max(0) as u64, 8),
        random_alphanumeric(12)
    ))
}

/// A new workflow run id for a run started without the SDK (`POST /v2/trigger`): `wfr_` and 21
/// alphanumerics, as the SDK makes them.
pub fn new_run_id() -> String {
    format!("wfr_{}", random_alphanumeric(21))
}

/// A new waiter id (a workflow step waiting for an event), `wtr_` + 20 random alphanumerics.
pub fn new_waiter_id() -> String {
    format!("wtr_{}", random_alphanumeric(20))
}

/// A new schedule id, `scd_` + 26 random alphanumerics.
pub fn new_schedule_id() -> ScheduleId {
    ScheduleId(format!("scd_{}", random_alphanumeric(26)))
}

/// A new signing key, `sig_` + 28 alphanumerics: 32 bytes, which pyjwt accepts without warning (spec §11.1).
pub fn new_signing_key() -> String {
    format!("sig_{}", random_alphanumeric(28))
}

/// A JWT id for one signature.
pub fn new_jwt_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("jwt_{hex}")
}

/// A new instance id, `ins_` + 16 random alphanumerics: who holds a lease when `--instance-id` is not set.
pub fn new_instance_id() -> String {
    format!("ins_{}", random_alphanumeric(16))
}

/// The id of one HTTP request, echoed in `X-Request-Id` and carried by its log lines.
pub fn new_request_id() -> String {
    format!("req_{}", random_alphanumeric(16))
}

/// A DLQ id: the 13-digit millisecond time, then random characters, so that ordering by id orders by time
/// (the cursor of `GET /v2/dlq` is simply the last id) and ids from several instances never collide.
pub fn new_dlq_id(now_ms: i64) -> DlqId {
    DlqId(format!("{now_ms:013}-{}", random_alphanumeric(10)))
}

/// Ids and names that come back to us in paths must stay path-safe (spec §0.2). `.` and `..` are not: HTTP
/// clients normalise them away (`/v2/schedules/..` becomes `/v2/`), so such a name could never be named again.
pub fn is_path_safe(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_not_path_safe() {
        assert!(!is_path_safe("."));
        assert!(!is_path_safe(".."));
        assert!(is_path_safe("..."));
        assert!(is_path_safe(".hidden"));
        assert!(!is_path_safe("a\0b"));
    }

    #[test]
    fn dlq_ids_sort_by_time() {
        let a = new_dlq_id(999_999_999_999);
        let b = new_dlq_id(1_700_000_000_000);
        assert!(a < b);
        assert!(a.starts_with("0999999999999-"));
    }

    #[test]
    fn generated_ids_are_path_safe_and_distinct() {
        let ids: Vec<_> = (0..100).map(|_| new_message_id()).collect();
        assert!(ids.iter().all(|id| is_path_safe(id) && id.starts_with("msg_")));
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), 100);
        assert_eq!(new_signing_key().len(), 32);
        assert!(ids.iter().all(|id| id.len() == 30), "msg_ + 26 characters, as before");
        let action = new_bulk_action_id();
        assert!(is_path_safe(&action) && action.starts_with("act_") && action.len() == 24);
    }

    #[test]
    fn message_ids_sort_by_creation_time() {
        assert_eq!(sortable(0, 8), "00000000");
        assert_eq!(sortable(61, 2), "0z");
        assert_eq!(sortable(62, 2), "10");
        let times = [0u64, 61, 62, 1_700_000_000_000, 1_700_000_000_001, 62u64.pow(8) - 1];
        let encoded: Vec<String> = times.iter().map(|t| sortable(*t, 8)).collect();
        assert!(encoded.windows(2).all(|w| w[0] < w[1]), "{encoded:?}");
        let (earlier, later) = (message_id_at(1_700_000_000_000), message_id_at(1_700_000_000_001));
        assert!(earlier < later, "{earlier} < {later}");
        assert!(new_message_id() > message_id_at(1_700_000_000_000));
    }
}
