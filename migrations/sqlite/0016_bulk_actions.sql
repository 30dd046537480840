-- Async bulk actions (issue 23). SQLite: same shape as the Postgres migration of the same number. A bulk
-- cancel with "async": true is stored here at once, with its filter and a bound that keeps later messages
-- out, and a worker counts what it selects, then cancels it in chunks, recording its progress.
create table bulk_actions (
    id           text primary key,      -- act_ + creation time + random, so ordering by id orders by time
    kind         text not null,         -- cancel
    state        text not null,         -- in_progress | finished
    filter       text not null,         -- JSON of the store's Filter, as accepted
    cutoff       text,                  -- the greatest message id at acceptance: later messages sort after it
                                        -- (null: there was no message, so the action selects none)
    chunk        integer not null,       -- messages per step
    total        integer,                -- null until the worker's first step counts the selection
    counted_at   integer,                -- when it counted: messages finished before then are not selected
    processed    integer not null,       -- of those, the ones whose chunk is done (canceled or ended otherwise)
    cursor       text,                  -- the last message id of the last chunk done
    created_at   integer not null,
    completed_at integer,
    lease_holder text,                  -- the worker running it, until lease_until
    lease_until  integer
);

-- The worker's claim: unfinished actions, oldest first.
create index bulk_actions_unfinished on bulk_actions (created_at) where state = 'in_progress';
-- Retention.
create index bulk_actions_completed on bulk_actions (completed_at) where completed_at is not null;
