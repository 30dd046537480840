-- Schedules: a cron expression and the message to create at each of its slots.
create table schedules (
    id               text primary key,
    cron             text not null,          -- as given, trimmed, with any CRON_TZ= prefix
    destination      text not null,          -- the URL as published (URL groups come later)
    method           text not null,
    header           text not null,          -- JSON header map delivered with every fired message
    body             bytea not null,
    max_retries      integer not null,
    delay_ms         bigint,                 -- Upstash-Delay, applied to every fired message
    timeout_ms       bigint,
    labels           text,                   -- ",a,b," as on messages
    caller_ip        text,
    is_paused        boolean not null default false,
    next_fire_at     bigint not null,        -- the next slot, Unix ms
    last_fire_at     bigint,                 -- the last slot fired
    last_message_ids text,                   -- the messages the last fire created, comma-separated
    created_at       bigint not null,
    updated_at       bigint not null
);

-- The scheduler's hot path: the earliest slot of schedules that are not paused.
create index schedules_due on schedules (next_fire_at) where not is_paused;

-- Fired messages name their schedule.
create index messages_schedule on messages (schedule_id) where schedule_id is not null;
