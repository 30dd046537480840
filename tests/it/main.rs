//! Black-box integration tests: the real app on port 0, a fresh database per test, on SQLite and Postgres.

mod common;

mod bad_input;
mod batch;
mod bulk_fail_closed;
mod bulk_properties;
mod callbacks;
mod cli;
mod client_input;
mod connections;
mod crash;
mod dedup;
mod delivery;
mod dlq_api;
mod flow_control;
mod isolation;
mod leases;
mod limits;
mod local_resources;
mod logs;
mod messages_api;
mod metrics;
mod multi_instance;
mod outage;
mod process_output;
mod queues;
mod redact;
mod retries;
mod schedules;
mod sdk;
mod sdk_conformance;
mod shutdown;
mod ssrf;
mod standard_webhooks;
mod store_conformance;
mod url_groups;
