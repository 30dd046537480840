-- Logs ("events" on the wire, spec §10): one entry per state transition of a message, removed with it.
-- SQLite: same shape as the Postgres migration of the same number; an integer primary key autoincrements.
create table message_events (
    id                 integer primary key,     -- the cursor: entries sort by id
    message_id         text not null references messages (id) on delete cascade,
    time               integer not null,
    state              text not null,           -- the QStash log state name (CREATED, ACTIVE, ...)
    response_status    integer,
    error              text,
    next_delivery_time integer
);
create index message_events_message on message_events (message_id);
