//! Message states and the one table of allowed transitions. Each transition has one owner:
//!
//! | from          | to            | owner                                   |
//! |---------------|---------------|-----------------------------------------|
//! | (new)         | pending       | api: publish, DLQ retry                  |
//! | pending       | in_progress   | dispatcher: claim (lease + attempt + 1)  |
//! | in_progress   | delivered     | dispatcher: complete (2xx)               |
//! | in_progress   | pending       | dispatcher: complete (retry later)       |
//! | in_progress   | failed        | dispatcher: complete (retries exhausted) |
//! | in_progress   | canceled      | dispatcher: complete (cancel requested)  |
//! | in_progress   | pending       | rescuer: lease expired (worker died)     |
//! | pending       | canceled      | api: cancel                              |
//! | finished      | (deleted)     | cleaner: retention                       |

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageState {
    Pending,
    InProgress,
    Delivered,
    Failed,
    Canceled,
}

impl MessageState {
    pub const ALL: [MessageState; 5] = [
        MessageState::Pending,
        MessageState::InProgress,
        MessageState::Delivered,
        MessageState::Failed,
        MessageState::Canceled,
    ];

    /// The spelling stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Pending => "pending",
            MessageState::InProgress => "in_progress",
            MessageState::Delivered => "delivered",
            MessageState::Failed => "failed",
            MessageState::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            MessageState::Delivered | MessageState::Failed | MessageState::Canceled
        )
    }

    /// Whether the engine ever moves a message from `self` to `to`.
    pub fn can_become(self, to: MessageState) -> bool {
        use MessageState::*;
        matches!(
            (self, to),
            (Pending, InProgress)
                | (Pending, Canceled)
                | (InProgress, Delivered)
                | (InProgress, Pending)
                | (InProgress, Failed)
                | (InProgress, Canceled)
        )
    }

    /// The QStash log state name (spec §10.3) for a message in this state.
    pub fn qstash_name(self, attempt: i32, cancel_requested: bool) -> &'static str {
        self.shown(attempt, cancel_requested).name()
    }

    /// How a message in this state is shown, after `attempt` attempts.
    pub fn shown(self, attempt: i32, cancel_requested: bool) -> ShownState {
        match self {
            MessageState::Pending if attempt == 0 => ShownState::Created,
            MessageState::Pending => ShownState::Retry,
            MessageState::InProgress if cancel_requested => ShownState::CancelRequested,
            MessageState::InProgress => ShownState::Active,
            MessageState::Delivered => ShownState::Delivered,
            MessageState::Failed => ShownState::Failed,
            MessageState::Canceled => ShownState::Canceled,
        }
    }
}

/// The state a message is shown in (`state` of a message, spec §4.1), as a filter of `GET /v2/messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShownState {
    Created,
    Retry,
    Active,
    CancelRequested,
    Delivered,
    Failed,
    Canceled,
}

impl ShownState {
    /// The QStash spelling (`CANCELLED` too, as the logs accept it).
    pub fn parse(name: &str) -> Option<ShownState> {
        Some(match name {
            "CREATED" => ShownState::Created,
            "RETRY" => ShownState::Retry,
            "ACTIVE" | "IN_PROGRESS" => ShownState::Active,
            "CANCEL_REQUESTED" => ShownState::CancelRequested,
            "DELIVERED" => ShownState::Delivered,
            "FAILED" => ShownState::Failed,
            "CANCELED" | "CANCELLED" => ShownState::Canceled,
            _ => return None,
        })
    }
}

impl ShownState {
    /// The QStash spelling.
    pub fn name(self) -> &'static str {
        match self {
            ShownState::Created => "CREATED",
            ShownState::Retry => "RETRY",
            ShownState::Active => "ACTIVE",
            ShownState::CancelRequested => "CANCEL_REQUESTED",
            ShownState::Delivered => "DELIVERED",
            ShownState::Failed => "FAILED",
            ShownState::Canceled => "CANCELED",
        }
    }
}

/// The state of a log entry (spec §10.3): one per transition, as stored in `message_events.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogState {
    Created,
    Active,
    Retry,
    Error,
    Delivered,
    Failed,
    CancelRequested,
    Canceled,
}

impl LogState {
    pub const ALL: [LogState; 8] = [
        LogState::Created,
        LogState::Active,
        LogState::Retry,
        LogState::Error,
        LogState::Delivered,
        LogState::Failed,
        LogState::CancelRequested,
        LogState::Canceled,
    ];

    /// The spelling stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            LogState::Created => "CREATED",
            LogState::Active => "ACTIVE",
            LogState::Retry => "RETRY",
            LogState::Error => "ERROR",
            LogState::Delivered => "DELIVERED",
            LogState::Failed => "FAILED",
            LogState::CancelRequested => "CANCEL_REQUESTED",
            LogState::Canceled => "CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<LogState> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::MessageState::*;
    use super::*;

    #[test]
    fn finished_states_are_terminal() {
        for from in MessageState::ALL.into_iter().filter(|s| s.is_finished()) {
            for to in MessageState::ALL {
                assert!(!from.can_become(to), "{from} must not become {to}");
            }
        }
    }

    #[test]
    fn only_the_documented_transitions_are_allowed() {
        let allowed: Vec<_> = MessageState::ALL
            .into_iter()
            .flat_map(|from| MessageState::ALL.into_iter().map(move |to| (from, to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Pending, InProgress),
                (Pending, Canceled),
                (InProgress, Pending),
                (InProgress, Delivered),
                (InProgress, Failed),
                (InProgress, Canceled),
            ]
        );
    }

    #[test]
    fn every_shown_name_parses_to_the_state_it_names() {
        let shown = [
            (Pending.qstash_name(0, false), ShownState::Created),
            (Pending.qstash_name(1, false), ShownState::Retry),
            (InProgress.qstash_name(1, false), ShownState::Active),
            (InProgress.qstash_name(1, true), ShownState::CancelRequested),
            (Delivered.qstash_name(1, false), ShownState::Delivered),
            (Failed.qstash_name(1, false), ShownState::Failed),
            (Canceled.qstash_name(1, false), ShownState::Canceled),
        ];
        for (name, state) in shown {
            assert_eq!(ShownState::parse(name), Some(state), "{name}");
        }
        assert_eq!(ShownState::parse("pending"), None);
    }

    #[test]
    fn names_match_the_python_sdk_enum() {
        assert_eq!(Pending.qstash_name(0, false), "CREATED");
        assert_eq!(Pending.qstash_name(2, false), "RETRY");
        assert_eq!(InProgress.qstash_name(1, true), "CANCEL_REQUESTED");
        assert_eq!(Canceled.qstash_name(1, false), "CANCELED");
        for s in MessageState::ALL {
            assert_eq!(MessageState::parse(s.as_str()), Some(s));
        }
    }
}
