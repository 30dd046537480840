//! One function per operation, each carrying its `#[utoipa::path]` description. The functions are never
//! called: the handlers live in the resource modules of `crate::api` (see `super` for why not on them).

#![allow(dead_code)]

pub mod bulk_actions;
pub mod dlq;
pub mod flow_control;
pub mod keys;
pub mod logs;
pub mod messages;
pub mod ops;
pub mod publish;
pub mod queues;
pub mod schedules;
pub mod topics;
pub mod workflows;
