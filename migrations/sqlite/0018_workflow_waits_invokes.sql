-- Upstash Workflow: waits for events, the events kept for runs not waiting yet, and invokes (issue 19).

-- Steps waiting for an event (context.waitForEvent, waitForWebhook): a notify or the deadline, whichever
-- deletes the row first, appends the step that resumes the run.
create table workflow_waiters (
    id            text primary key,      -- wtr_…
    run_id        text not null references workflow_runs (run_id) on delete cascade,
    event_id      text not null,
    url           text not null,         -- where the notified step is delivered
    timeout_url   text not null,         -- where the timed-out step is delivered
    timeout       text not null,         -- the timeout as the SDK gave it (repeated in the timed-out step)
    deadline      integer not null,
    step          text not null,         -- JSON: the SDK's step, completed with the outcome when it resumes
    timeout_headers text,                -- JSON: as the wait request gave them (shown by GET /v2/waiters)
    created_at    integer not null
);
create index workflow_waiters_event on workflow_waiters (event_id);
create index workflow_waiters_deadline on workflow_waiters (deadline);

-- Lookback notifies (POST /v2/notify/{runId}/{eventId}, webhooks) for a run not waiting yet: its next wait for
-- the event takes it at once.
create table workflow_events (
    run_id      text not null references workflow_runs (run_id) on delete cascade,
    event_id    text not null,
    body        blob not null,
    created_at  integer not null,
    primary key (run_id, event_id)
);

-- The run that invoked this one (context.invoke; JSON: run id, URL, creation time, the invoke step), resumed
-- with the invoke step's result when this one ends.
alter table workflow_runs add column invoker text;
