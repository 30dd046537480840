//! Background loops. Each owns its state transitions: the dispatcher claims, delivers and completes; the
//! scheduler fires cron slots into messages; the maintenance loop rescues expired leases, refreshes signing
//! keys and applies retention; the bulk worker runs async bulk actions; `peers` wakes the other instances sharing a database.

pub mod breaker;
pub mod bulk;
pub mod committer;
pub mod deliver;
pub mod dispatcher;
pub mod fairness;
pub mod leases;
pub mod maintenance;
mod panic_guard;
pub mod peers;
pub mod resolver;
pub mod scheduler;
pub mod stats;
pub mod wake;
pub mod workflow;
