//! Postdate: a self-hosted, QStash-compatible service that delivers HTTP requests later.

pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod domain;
pub mod keys;
pub mod metrics;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod throughput;
pub mod wire;
pub mod worker;
