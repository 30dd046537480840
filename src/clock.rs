//! Time as the engine sees it: the system clock in production, a clock that tests move by hand.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Unix time in milliseconds.
pub type Millis = i64;

/// Every "now" the engine binds into SQL comes from here, so tests move time instead of sleeping.
#[derive(Clone, Debug)]
pub enum Clock {
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `start_ms`.
    pub fn manual(start_ms: Millis) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    pub fn now_ms(&self) -> Millis {
        match self {
            Clock::System => system_now_ms(),
            Clock::Manual(ms) => ms.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; a no-op on the system clock.
    pub fn advance_ms(&self, by: Millis) {
        if let Clock::Manual(ms) = self {
            ms.fetch_add(by, Ordering::SeqCst);
        }
    }

    /// Sets a manual clock; a no-op on the system clock.
    pub fn set_ms(&self, to: Millis) {
        if let Clock::Manual(ms) = self {
            ms.store(to, Ordering::SeqCst);
        }
    }

    pub fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }
}

pub fn system_now_ms() -> Millis {
    chrono::Utc::now().timestamp_millis()
}
