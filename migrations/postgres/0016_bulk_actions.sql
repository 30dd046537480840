-- Async bulk actions (issue 23): a bulk cancel with "async": true is stored here at once, with the exact
-- number of messages it selected then, and a worker cancels them in chunks, recording its progress.
create table bulk_actions (
    id           text primary key,      -- act_ + creation time + random, so ordering by id orders by time
    kind         text not null,         -- cancel
    state        text not null,         -- in_progress | finished
    filter       text not null,         -- JSON of the store's Filter, as accepted
    total        bigint not null,       -- messages selected at acceptance
    processed    bigint not null,       -- of those, the ones whose chunk is done (canceled or ended otherwise)
    cursor       text,                  -- the last message id of the last chunk done
    created_at   bigint not null,
    completed_at bigint,
    lease_holder text,                  -- the worker running it, until lease_until
    lease_until  bigint
);

-- The worker's claim: unfinished actions, oldest first.
create index bulk_actions_unfinished on bulk_actions (created_at) where state = 'in_progress';
-- Retention.
create index bulk_actions_completed on bulk_actions (completed_at) where completed_at is not null;

-- The selection cut into chunks at acceptance: each row is the last message id of a chunk and how many
-- selected messages lie up to it, so the worker's progress counts messages of the selection exactly,
-- including those that were delivered or canceled by someone else before it got to them.
create table bulk_action_chunks (
    action_id text not null references bulk_actions (id) on delete cascade,
    position  bigint not null,
    last_id   text not null,
    primary key (action_id, position)
);
