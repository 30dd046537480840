-- Messages: one row per accepted message, kept after it finishes until retention removes it.
-- SQLite: same shape as the Postgres migration of the same number; integer is 64-bit here, blob holds bytes.
-- Times are Unix milliseconds bound from Rust (the Clock), never now() in SQL.
create table messages (
    id                     text primary key,
    state                  text not null,          -- pending | in_progress | delivered | failed | canceled
    attempt                integer not null default 0, -- attempts started (claims); Upstash-Retried = attempt - 1
    max_retries            integer not null,
    due_at                 integer not null,        -- when the next attempt may start
    lease_until            integer,                 -- set while in_progress; expired leases are rescued
    cancel_requested       boolean not null default false,
    url                    text not null,
    url_host               text not null,
    url_path               text not null,
    method                 text not null,
    header                 text not null,          -- JSON {"Canonical-Name": ["value", ...]} delivered as-is
    body                   blob not null,
    timeout_ms             integer,
    retry_delay_expression text,
    not_before             integer not null,
    created_at             integer not null,
    updated_at             integer not null,
    finished_at            integer,
    caller_ip              text,
    labels                 text,                   -- ",a,b," so one label is found with instr
    topic_name             text,
    endpoint_name          text,
    queue_name             text,
    schedule_id            text,
    flow_control_key       text
);

-- The hot path: due messages, ordered by due time. Literal state so the planner uses it with cached plans.
create index messages_due on messages (due_at) where state = 'pending';
-- Lease rescue.
create index messages_leased on messages (lease_until) where state = 'in_progress';
-- Retention.
create index messages_finished on messages (finished_at) where finished_at is not null;

-- Dead-letter queue: one entry per finally failed message, with the last response.
-- dlq_id starts with the 13-digit millisecond time, so ordering by id is ordering by time.
create table dlq (
    dlq_id          text primary key,
    message_id      text not null unique references messages (id) on delete cascade,
    response_status integer not null,         -- 0 when there was no HTTP response
    response_header text,                     -- JSON header map
    response_body   blob,
    error           text,
    created_at      integer not null
);

-- Signing keys: one row, generated on first start unless configuration gives them.
create table signing_keys (
    id      integer primary key check (id = 1),
    current text not null,
    next    text not null
);
