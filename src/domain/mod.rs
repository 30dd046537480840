//! Pure domain values: ids, durations, destinations, message options, retry policy, signing. No I/O.

pub mod callback;
pub mod callback_message;
pub mod cron;
pub mod destination;
pub mod duration;
pub mod flow_control;
pub mod headers;
pub mod ids;
pub mod message;
pub mod net_policy;
pub mod option_rules;
pub mod options;
#[cfg(test)]
mod properties;
pub mod redact;
pub mod retry;
pub mod retry_delay;
pub mod schedule;
pub mod signing;
pub mod state;
pub mod webhook;
pub mod workflow;
pub mod workflow_link;
