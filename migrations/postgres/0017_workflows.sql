-- Upstash Workflow runs (issue 19). A run is created by a trigger
-- (a publish with Upstash-Workflow-Init: true) and ended by the SDK's DELETE, a cancel, or the failure of a
-- step; its steps are ordinary messages whose `workflow` column links them to it.
create table workflow_runs (
    run_id        text primary key,      -- wfr_…, chosen by the SDK
    url           text not null,         -- the workflow endpoint every step is delivered to
    state         text not null,         -- RUN_STARTED | RUN_SUCCESS | RUN_FAILED | RUN_CANCELED
    config        text not null,         -- JSON: the trigger's settings, reapplied to every step
    labels        text,                  -- ,a,b, like messages.labels
    caller_ip     text,
    next_seq      bigint not null,       -- the history position the next appended message takes
    result        bytea,                 -- the DELETE body of a finished run (its return value as JSON text)
    created_at    bigint not null,
    updated_at    bigint not null,
    completed_at  bigint
);
create index workflow_runs_created on workflow_runs (created_at);
create index workflow_runs_completed on workflow_runs (completed_at) where completed_at is not null;

-- The history the SDK replays: every message published into the run, in publish order (seq), append-only.
-- Entry 0 is the initial payload. A delivery's body is the history up to and including its own message.
create table workflow_history (
    run_id      text not null references workflow_runs (run_id) on delete cascade,
    seq         bigint not null,
    message_id  text not null,
    call_type   text not null,          -- step | toCallback, as the SDK's Upstash-Workflow-CallType
    body        bytea not null,
    primary key (run_id, seq)
);

-- The run a message belongs to, and its part in it (JSON: run id, role, history position), null for the
-- messages of plain publishes.
alter table messages add column workflow text;
