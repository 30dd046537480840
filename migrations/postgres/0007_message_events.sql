-- Logs ("events" on the wire, spec §10): one entry per state transition of a message, removed with it.
create table message_events (
    id                 bigserial primary key,   -- the cursor: entries sort by id
    message_id         text not null references messages (id) on delete cascade,
    time               bigint not null,
    state              text not null,           -- the QStash log state name (CREATED, ACTIVE, ...)
    response_status    integer,
    error              text,
    next_delivery_time bigint
);
create index message_events_message on message_events (message_id);
