-- Flow control (spec §8): limits per key on deliveries in flight (parallelism) and started per period (rate).
-- Messages over a limit simply wait (the waitlist is the key's pending messages).
-- SQLite: same shape as the Postgres migration of the same number.
create table flow_control_keys (
    key                text primary key,
    parallelism        integer,                -- null: no limit
    rate               integer,                -- null: no limit
    period_ms          integer not null,
    paused             boolean not null default false,
    pinned_parallelism boolean not null default false,
    pinned_rate        boolean not null default false,
    rate_count         integer not null default 0,  -- deliveries started in the current period
    rate_period_start  integer not null,
    created_at         integer not null,
    updated_at         integer not null
);

create index messages_flow_control_pending on messages (flow_control_key, due_at)
    where state = 'pending' and flow_control_key is not null;
create index messages_flow_control_in_flight on messages (flow_control_key)
    where state = 'in_progress' and flow_control_key is not null;
