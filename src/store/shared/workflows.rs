//! Workflow runs and their histories: the statements (the same text on both databases) and the operations
//! around them. A run's row is the lock that orders its appends: an append takes the next history
//! positions from `next_seq` while the run is started, so positions follow commit order, and a message's
//! delivery, which reads the history up to its own position, always finds every earlier entry committed.

pub(in crate::store) const WORKFLOW_RUN_INSERT: &str = "
-- workflow_trigger: create the run unless one with its id exists
insert into workflow_runs (run_id, url, state, config, labels, caller_ip, next_seq, created_at, updated_at, invoker)
values ($1, $2, 'RUN_STARTED', $3, $4, $5, 1, $6, $6, $7)
on conflict (run_id) do nothing
returning run_id";

pub(in crate::store) const WORKFLOW_RUN_CONFIG: &str = "
-- workflow_trigger (the SDK's re-trigger): the settings of a started run still at its first delivery
select config from workflow_runs where run_id = $1 and state = 'RUN_STARTED' and next_seq = 1";

pub(in crate::store) const WORKFLOW_RUN_RECONFIGURE: &str = "
-- workflow_trigger (the SDK's re-trigger): its settings replace those of the start without the SDK, if
-- nothing else replaced them meanwhile
update workflow_runs set config = $2, labels = $3, updated_at = $4
where run_id = $1 and state = 'RUN_STARTED' and next_seq = 1 and config = $5
returning run_id";

pub(in crate::store) const WORKFLOW_FIRST_ENTRY_DROP: &str = "
-- workflow_trigger (the SDK's re-trigger): the first history entry makes way for the re-trigger's
delete from workflow_history where run_id = $1 and seq = 0";

pub(in crate::store) const WORKFLOW_DLQ_TAKE: &str = "
-- workflow_rerun: take the DLQ entry of the failed step, if it is still there
delete from dlq where dlq_id = $1";

pub(in crate::store) const WORKFLOW_HISTORY_COPY: &str = "
-- workflow_rerun: the new run keeps the failed run's history before the step it goes on from
insert into workflow_history (run_id, seq, message_id, call_type, body, created_at)
select $1, seq, message_id, call_type, body, created_at from workflow_history where run_id = $2 and seq < $3";

pub(in crate::store) const WORKFLOW_NEXT_SEQ_SET: &str = "
-- workflow_rerun: the new run's next history position follows its first message
update workflow_runs set next_seq = $2 where run_id = $1";

pub(in crate::store) const WORKFLOW_FIRST_MESSAGE: &str = "
-- workflow_trigger (duplicate): the first message of the run that exists
select message_id from workflow_history where run_id = $1 and seq = 0";

pub(in crate::store) const WORKFLOW_HISTORY_INSERT: &str = "
-- workflow_trigger / workflow_append: one history entry
insert into workflow_history (run_id, seq, message_id, call_type, body, created_at) values ($1, $2, $3, $4, $5, $6)";

pub(in crate::store) const WORKFLOW_TAKE_POSITIONS: &str = "
-- workflow_append: take the next $2 history positions of a started run (the row lock orders appends)
update workflow_runs set next_seq = next_seq + $2, updated_at = $3
where run_id = $1 and state = 'RUN_STARTED'
returning next_seq - $2";

pub(in crate::store) const WORKFLOW_RUN_STATE: &str = "
-- workflow_append / workflow_end: the state of a run
select state from workflow_runs where run_id = $1";

pub(in crate::store) const WORKFLOW_RUN_GET: &str = "
-- workflow_run_get: one run
select run_id, url, state, config, labels, caller_ip, result, created_at, updated_at, completed_at, invoker
from workflow_runs where run_id = $1";

pub(in crate::store) const WORKFLOW_RUNS_PAGE: &str = "
-- workflow_runs_page: runs in a state, oldest first, after a (created_at, run_id) position
select run_id, url, state, config, labels, caller_ip, result, created_at, updated_at, completed_at, invoker
from workflow_runs
where state = $1 and ($2 is null or created_at > $2 or (created_at = $2 and run_id > $3))
order by created_at, run_id
limit $4";

pub(in crate::store) const WORKFLOW_RUNS_NEWEST: &str = "
-- workflow_runs_newest: runs (in a state, when given), newest first, before a (created_at, run_id) position
select run_id, url, state, config, labels, caller_ip, result, created_at, updated_at, completed_at, invoker
from workflow_runs
where ($1 is null or state = $1) and ($2 is null or created_at < $2 or (created_at = $2 and run_id < $3))
order by created_at desc, run_id desc
limit $4";

pub(in crate::store) const WORKFLOW_HISTORY: &str = "
-- workflow_history: the history in publish order, up to a position when one is given
select message_id, call_type, body, created_at from workflow_history
where run_id = $1 and ($2 is null or seq <= $2)
order by seq";

pub(in crate::store) const WORKFLOW_RUN_END: &str = "
-- workflow_end: end a started run
update workflow_runs set state = $2, result = $3, updated_at = $4, completed_at = $4
where run_id = $1 and state = 'RUN_STARTED'
returning state, invoker";

pub(in crate::store) const WORKFLOW_RUN_FAIL: &str = "
-- message_complete: the final failure of a step fails its run, once
update workflow_runs set state = 'RUN_FAILED', updated_at = $2, completed_at = $2
where run_id = $1 and state = 'RUN_STARTED'
returning run_id, invoker";

pub(in crate::store) const WORKFLOW_WAITERS_DROP: &str = "
-- a run ended: its steps waiting for events wait no more
delete from workflow_waiters where run_id = $1";

pub(in crate::store) const WORKFLOW_EVENTS_DROP: &str = "
-- a run ended: the events kept for its next wait go
delete from workflow_events where run_id = $1";

pub(in crate::store) const WORKFLOW_MESSAGE_IDS: &str = "
-- workflow_message_ids: the messages published into a run
select message_id from workflow_history where run_id = $1 order by seq";

pub(in crate::store) const WORKFLOW_DELETE_FINISHED: &str = "
-- workflow_delete_finished: retention for runs that ended before a time (their history goes with them)
delete from workflow_runs where run_id in (
    select run_id from workflow_runs where completed_at is not null and completed_at < $1 limit $2)";

const WAITER_COLUMNS: &str =
    "id, run_id, event_id, url, timeout_url, timeout, deadline, step, timeout_headers, created_at";

pub(in crate::store) const WORKFLOW_WAITER_INSERT: &str = "
-- workflow_wait: a step waits for its event until its deadline
insert into workflow_waiters (id, run_id, event_id, url, timeout_url, timeout, deadline, step, timeout_headers,
                              created_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub(in crate::store) const WORKFLOW_WAITER_COUNT: &str = "
-- workflow_wait: how many steps of the run wait already
select count(*) from workflow_waiters where run_id = $1";

pub(in crate::store) const WORKFLOW_EVENT_TAKE: &str = "
-- workflow_wait: the event a lookback notify kept for the run, taken
delete from workflow_events where run_id = $1 and event_id = $2 returning body";

pub(in crate::store) const WORKFLOW_EVENT_KEEP: &str = "
-- workflow_notify (lookback): keep the event for the run's next wait (a later notify replaces it)
insert into workflow_events (run_id, event_id, body, created_at) values ($1, $2, $3, $4)
on conflict (run_id, event_id) do update set body = excluded.body, created_at = excluded.created_at";

/// The statements that take waiters (the delete decides: a notify and the deadline never both resume one).
macro_rules! take_waiters {
    ($name:literal, $where:literal) => {
        concat!(
            "\n-- ",
            $name,
            ": take waiters\n",
            "delete from workflow_waiters where id in (select id from workflow_waiters where ",
            $where,
            ")\n",
            "returning id, run_id, event_id, url, timeout_url, timeout, deadline, step, timeout_headers, created_at"
        )
    };
}

pub(in crate::store) const WORKFLOW_WAITERS_TAKE_FOR_EVENT: &str =
    take_waiters!("workflow_notify", "event_id = $1 and ($2 is null or run_id = $2)");
pub(in crate::store) const WORKFLOW_WAITERS_TAKE_EXPIRED: &str =
    take_waiters!("workflow_expire_waiters", "deadline <= $1 order by deadline limit $2");

pub(in crate::store) fn waiters_list_sql() -> String {
    format!(
        "-- workflow_waiters: the steps waiting for an event, oldest first\n\
         select {WAITER_COLUMNS} from workflow_waiters where event_id = $1 order by created_at, id limit 1000"
    )
}

/// The messages of one append with their history positions from `first` on.
pub(in crate::store) fn positioned(
    messages: &[crate::domain::message::NewMessage],
    first: i64,
) -> Vec<crate::domain::message::NewMessage> {
    messages
        .iter()
        .zip(first..)
        .map(|(message, seq)| {
            let mut message = message.clone();
            if let Some(link) = &mut message.workflow {
                link.seq = Some(seq);
            }
            message
        })
        .collect()
}

/// Of the messages completions spawn, those to store: a run's failure callback only when the completion
/// ended that run (so it is sent once, by the first final failure among parallel steps).
pub(in crate::store) fn keep_spawned(message: &crate::domain::message::NewMessage, ended_runs: &[String]) -> bool {
    use crate::domain::workflow::Role;
    match &message.workflow {
        Some(link) if link.role == Role::FailureCallback => ended_runs.contains(&link.run_id),
        _ => true,
    }
}

macro_rules! workflow_store {
    () => {
        async fn workflow_trigger(
            &self,
            run: &crate::domain::workflow::NewRun,
            first: &NewMessage,
        ) -> Result<Option<String>> {
            use shared::workflows::*;
            let mut tx = self.begin_write().await?;
            let created = insert_run_in(&mut tx, run).await?;
            if !created && run.replaces_start && replace_start_in(&mut tx, run).await? {
                let first = positioned(std::slice::from_ref(first), 0);
                insert_messages(&mut tx, &first).await?;
                append_history(&mut tx, &run.run_id, &first).await?;
                tx.commit().await?;
                return Ok(None);
            }
            if !created {
                let first: Option<String> = sqlx::query_scalar(WORKFLOW_FIRST_MESSAGE)
                    .bind(&run.run_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Ok(Some(first.unwrap_or_default()));
            }
            let first = positioned(std::slice::from_ref(first), 0);
            insert_messages(&mut tx, &first).await?;
            append_history(&mut tx, &run.run_id, &first).await?;
            tx.commit().await?;
            Ok(None)
        }

        async fn workflow_rerun(
            &self,
            dlq_id: &str,
            from: &str,
            run: &crate::domain::workflow::NewRun,
            first_seq: i64,
            first: &NewMessage,
        ) -> Result<bool> {
            use shared::workflows::*;
            let mut tx = self.begin_write().await?;
            let taken = sqlx::query(WORKFLOW_DLQ_TAKE)
                .bind(dlq_id)
                .execute(&mut *tx)
                .await?;
            if taken.rows_affected() != 1 {
                return Ok(false);
            }
            insert_run_in(&mut tx, run).await?;
            sqlx::query(WORKFLOW_HISTORY_COPY)
                .bind(&run.run_id)
                .bind(from)
                .bind(first_seq)
                .execute(&mut *tx)
                .await?;
            let first = positioned(std::slice::from_ref(first), first_seq);
            insert_messages(&mut tx, &first).await?;
            append_history(&mut tx, &run.run_id, &first).await?;
            sqlx::query(WORKFLOW_NEXT_SEQ_SET)
                .bind(&run.run_id)
                .bind(first_seq + 1)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        }

        async fn workflow_append(&self, run_id: &str, now: i64, messages: &[NewMessage]) -> Result<Appended> {
            use shared::workflows::*;
            let mut tx = self.begin_write().await?;
            if !append_in(&mut tx, run_id, now, messages).await? {
                let state: Option<String> = sqlx::query_scalar(WORKFLOW_RUN_STATE)
                    .bind(run_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Ok(Appended::NotStarted(state.and_then(|s| RunState::parse(&s))));
            }
            tx.commit().await?;
            Ok(Appended::Stored)
        }

        async fn workflow_run_get(&self, run_id: &str) -> Result<Option<crate::domain::workflow::Run>> {
            let row: Option<RunRow> = sqlx::query_as(shared::workflows::WORKFLOW_RUN_GET)
                .bind(run_id)
                .fetch_optional(self.writes())
                .await?;
            decode_one(row)
        }

        async fn workflow_runs_page(
            &self,
            state: crate::domain::workflow::RunState,
            after: Option<(i64, &str)>,
            limit: i64,
        ) -> Result<Vec<crate::domain::workflow::Run>> {
            let rows: Vec<RunRow> = sqlx::query_as(shared::workflows::WORKFLOW_RUNS_PAGE)
                .bind(state.as_str())
                .bind(after.map(|(created_at, _)| created_at))
                .bind(after.map(|(_, run_id)| run_id.to_string()))
                .bind(limit)
                .fetch_all(self.writes())
                .await?;
            rows.into_iter().map(Decode::decode).collect()
        }

        async fn workflow_runs_newest(
            &self,
            state: Option<crate::domain::workflow::RunState>,
            before: Option<(i64, &str)>,
            limit: i64,
        ) -> Result<Vec<crate::domain::workflow::Run>> {
            let rows: Vec<RunRow> = sqlx::query_as(shared::workflows::WORKFLOW_RUNS_NEWEST)
                .bind(state.map(|s| s.as_str()))
                .bind(before.map(|(created_at, _)| created_at))
                .bind(before.map(|(_, run_id)| run_id.to_string()))
                .bind(limit)
                .fetch_all(self.reads())
                .await?;
            rows.into_iter().map(Decode::decode).collect()
        }

        async fn workflow_history(&self, run_id: &str, up_to: Option<i64>) -> Result<Vec<HistoryEntry>> {
            // From the writer: a delivery may follow its append at once.
            let rows: Vec<HistoryRow> = sqlx::query_as(shared::workflows::WORKFLOW_HISTORY)
                .bind(run_id)
                .bind(up_to)
                .fetch_all(self.writes())
                .await?;
            decode_all(rows)
        }

        async fn workflow_end(&self, run_id: &str, end: RunState, result: Option<&[u8]>, now: i64) -> Result<Ended> {
            use shared::workflows::*;
            let mut tx = self.begin_write().await?;
            let ended: Option<(String, Option<String>)> = sqlx::query_as(WORKFLOW_RUN_END)
                .bind(run_id)
                .bind(end.as_str())
                .bind(result)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((_, invoker)) = ended {
                use crate::domain::workflow::invoke::ChildEnd;
                let child = match end {
                    RunState::Canceled => ChildEnd::Canceled,
                    RunState::Failed => ChildEnd::Failed,
                    _ => ChildEnd::Finished(result.map(<[u8]>::to_vec)),
                };
                after_end_in(&mut tx, now, run_id, invoker.as_deref(), &child).await?;
                tx.commit().await?;
                return Ok(Ended::Now);
            }
            let state: Option<String> = sqlx::query_scalar(WORKFLOW_RUN_STATE)
                .bind(run_id)
                .fetch_optional(&mut *tx)
                .await?;
            Ok(match state.and_then(|s| RunState::parse(&s)) {
                Some(state) => Ended::Already(state),
                None => Ended::Unknown,
            })
        }

        async fn workflow_message_ids(&self, run_id: &str) -> Result<Vec<String>> {
            Ok(sqlx::query_scalar(shared::workflows::WORKFLOW_MESSAGE_IDS)
                .bind(run_id)
                .fetch_all(self.writes())
                .await?)
        }

        async fn workflow_wait(
            &self,
            waiter: &Waiter,
            max_per_run: i64,
            now: i64,
            resume: &Resume<'_>,
        ) -> Result<Waited> {
            use shared::workflows::*;
            let mut tx = self.begin_write().await?;
            let Some(run) = run_in(&mut tx, &waiter.run_id).await? else {
                return Ok(Waited::NotStarted(None));
            };
            if run.state != RunState::Started {
                return Ok(Waited::NotStarted(Some(run.state)));
            }
            let kept: Option<Vec<u8>> = sqlx::query_scalar(WORKFLOW_EVENT_TAKE)
                .bind(&waiter.run_id)
                .bind(&waiter.event_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(data) = kept {
                let resumed = resume_in(&mut tx, now, &run, waiter, &Resolution::Notified(data), resume).await?;
                tx.commit().await?;
                return Ok(Waited::Resumed(resumed));
            }
            let waiting: i64 = sqlx::query_scalar(WORKFLOW_WAITER_COUNT)
                .bind(&waiter.run_id)
                .fetch_one(&mut *tx)
                .await?;
            if waiting >= max_per_run {
                return Ok(Waited::TooMany);
            }
            sqlx::query(WORKFLOW_WAITER_INSERT)
                .bind(&waiter.id)
                .bind(&waiter.run_id)
                .bind(&waiter.event_id)
                .bind(&waiter.url)
                .bind(&waiter.timeout_url)
                .bind(&waiter.timeout)
                .bind(waiter.deadline)
                .bind(waiter.step.to_string())
                .bind(waiter.timeout_headers.as_ref().map(|h| h.to_string()))
                .bind(waiter.created_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Waited::Waiting)
        }

        async fn workflow_notify(
            &self,
            event_id: &str,
            run_id: Option<&str>,
            data: &[u8],
            now: i64,
            resume: &Resume<'_>,
        ) -> Result<Notify> {
            use shared::workflows::*;
            let mut tx = self.begin_write().await?;
            let rows: Vec<WaiterRow> = sqlx::query_as(WORKFLOW_WAITERS_TAKE_FOR_EVENT)
                .bind(event_id)
                .bind(run_id)
                .fetch_all(&mut *tx)
                .await?;
            let waiters = decode_all(rows)?;
            if let (true, Some(run_id)) = (waiters.is_empty(), run_id) {
                // Lookback: nobody waits yet; the run's next wait for the event takes it.
                let started = run_in(&mut tx, run_id)
                    .await?
                    .is_some_and(|run| run.state == RunState::Started);
                if !started {
                    return Ok(Notify::UnknownRun);
                }
                sqlx::query(WORKFLOW_EVENT_KEEP)
                    .bind(run_id)
                    .bind(event_id)
                    .bind(data)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(Notify::Kept);
            }
            let mut resumed = Vec::with_capacity(waiters.len());
            for waiter in waiters {
                let Some(run) = run_in(&mut tx, &waiter.run_id).await? else {
                    continue;
                };
                let notified = Resolution::Notified(data.to_vec());
                if let Some(message_id) = resume_in(&mut tx, now, &run, &waiter, &notified, resume).await? {
                    resumed.push((waiter, run.created_at, message_id));
                }
            }
            tx.commit().await?;
            Ok(Notify::Resumed(resumed))
        }

        async fn workflow_expire_waiters(&self, now: i64, limit: i64, resume: &Resume<'_>) -> Result<u64> {
            use shared::workflows::*;
            let mut tx = self.begin_write().await?;
            let rows: Vec<WaiterRow> = sqlx::query_as(WORKFLOW_WAITERS_TAKE_EXPIRED)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            let waiters = decode_all(rows)?;
            let mut expired = 0;
            for waiter in &waiters {
                let Some(run) = run_in(&mut tx, &waiter.run_id).await? else {
                    continue;
                };
                if resume_in(&mut tx, now, &run, waiter, &Resolution::TimedOut, resume)
                    .await?
                    .is_some()
                {
                    expired += 1;
                }
            }
            tx.commit().await?;
            Ok(expired)
        }

        async fn workflow_waiters(&self, event_id: &str) -> Result<Vec<Waiter>> {
            let rows: Vec<WaiterRow> = sqlx::query_as(&shared::workflows::waiters_list_sql())
                .bind(event_id)
                .fetch_all(self.reads())
                .await?;
            decode_all(rows)
        }

        async fn workflow_delete_finished(&self, before: i64, limit: i64) -> Result<u64> {
            let done = sqlx::query(shared::workflows::WORKFLOW_DELETE_FINISHED)
                .bind(before)
                .bind(limit)
                .execute(self.writes())
                .await?;
            Ok(done.rows_affected())
        }
    };
}

/// The history entries of messages just positioned, in the same transaction.
macro_rules! append_history_fn {
    ($conn:ty) => {
        pub(super) async fn append_history(
            conn: &mut $conn,
            run_id: &str,
            messages: &[crate::domain::message::NewMessage],
        ) -> Result<()> {
            for message in messages {
                let Some(link) = &message.workflow else { continue };
                let call_type = match link.role {
                    crate::domain::workflow::Role::Call => "toCallback",
                    _ => "step",
                };
                sqlx::query(shared::workflows::WORKFLOW_HISTORY_INSERT)
                    .bind(run_id)
                    .bind(link.seq)
                    .bind(message.id.as_str())
                    .bind(call_type)
                    .bind(&message.body[..])
                    .bind(message.created_at)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }

        /// Stores `messages` into the run at its next history positions, while it is started; false (and
        /// nothing stored) once it has ended or when it does not exist.
        pub(super) async fn append_in(
            conn: &mut $conn,
            run_id: &str,
            now: i64,
            messages: &[crate::domain::message::NewMessage],
        ) -> Result<bool> {
            let first: Option<i64> = sqlx::query_scalar(shared::workflows::WORKFLOW_TAKE_POSITIONS)
                .bind(run_id)
                .bind(messages.len() as i64)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?;
            let Some(first) = first else { return Ok(false) };
            let messages = shared::workflows::positioned(messages, first);
            insert_messages(&mut *conn, &messages).await?;
            append_history(&mut *conn, run_id, &messages).await?;
            Ok(true)
        }

        /// Creates `run` unless a run with its id exists; whether it did.
        async fn insert_run_in(conn: &mut $conn, run: &crate::domain::workflow::NewRun) -> Result<bool> {
            let config = serde_json::to_string(&run.config).expect("a run's settings serialise");
            let invoker = run
                .invoker
                .as_ref()
                .map(|i| serde_json::to_string(i).expect("an invoker serialises"));
            let created: Option<String> = sqlx::query_scalar(shared::workflows::WORKFLOW_RUN_INSERT)
                .bind(&run.run_id)
                .bind(&run.url)
                .bind(config)
                .bind(labels_column(&run.labels))
                .bind(run.caller_ip.as_deref())
                .bind(run.created_at)
                .bind(invoker)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(created.is_some())
        }

        /// The SDK's re-trigger of a run started without it (`POST /v2/trigger`) that has not moved past its
        /// first delivery: its settings become the run's and its first history entry goes, for the
        /// re-trigger's message to take its place. False (and nothing changed) for any other run.
        async fn replace_start_in(conn: &mut $conn, run: &crate::domain::workflow::NewRun) -> Result<bool> {
            use shared::workflows::*;
            let stored: Option<String> = sqlx::query_scalar(WORKFLOW_RUN_CONFIG)
                .bind(&run.run_id)
                .fetch_optional(&mut *conn)
                .await?;
            let Some(stored) = stored else { return Ok(false) };
            let started_without_sdk = serde_json::from_str::<crate::domain::workflow::RunConfig>(&stored)
                .map(|config| config.unknown_sdk)
                .unwrap_or(false);
            if !started_without_sdk {
                return Ok(false);
            }
            let config = serde_json::to_string(&run.config).expect("a run's settings serialise");
            let replaced: Option<String> = sqlx::query_scalar(WORKFLOW_RUN_RECONFIGURE)
                .bind(&run.run_id)
                .bind(config)
                .bind(labels_column(&run.labels))
                .bind(run.created_at)
                .bind(&stored)
                .fetch_optional(&mut *conn)
                .await?;
            if replaced.is_none() {
                return Ok(false);
            }
            sqlx::query(WORKFLOW_FIRST_ENTRY_DROP).bind(&run.run_id).execute(&mut *conn).await?;
            Ok(true)
        }

        async fn run_in(conn: &mut $conn, run_id: &str) -> Result<Option<crate::domain::workflow::Run>> {
            let row: Option<RunRow> = sqlx::query_as(shared::workflows::WORKFLOW_RUN_GET)
                .bind(run_id)
                .fetch_optional(&mut *conn)
                .await?;
            decode_one(row)
        }

        /// Appends the step that resumes `waiter`'s run; its message id, or none when the run has ended (or
        /// the step cannot be built, which is logged).
        async fn resume_in(
            conn: &mut $conn,
            now: i64,
            run: &crate::domain::workflow::Run,
            waiter: &crate::domain::workflow::wait::Waiter,
            resolution: &crate::domain::workflow::wait::Resolution,
            resume: &crate::store::Resume<'_>,
        ) -> Result<Option<String>> {
            let Some(message) = resume(run, waiter, resolution) else {
                tracing::error!(run_id = %run.run_id, waiter = %waiter.id, "the step resuming a wait could not be built");
                return Ok(None);
            };
            let id = message.id.to_string();
            let appended = append_in(conn, &run.run_id, now, std::slice::from_ref(&message)).await?;
            Ok(appended.then_some(id))
        }

        /// Fails the runs of `runs` still started (a step's final failure), resuming their invokers; returns
        /// those it ended.
        pub(super) async fn fail_runs(conn: &mut $conn, now: i64, runs: &[&str]) -> Result<Vec<String>> {
            let mut ended = Vec::new();
            for run in runs {
                let done: Option<(String, Option<String>)> = sqlx::query_as(shared::workflows::WORKFLOW_RUN_FAIL)
                    .bind(run)
                    .bind(now)
                    .fetch_optional(&mut *conn)
                    .await?;
                let Some((run_id, invoker)) = done else { continue };
                let failed = crate::domain::workflow::invoke::ChildEnd::Failed;
                after_end_in(&mut *conn, now, &run_id, invoker.as_deref(), &failed).await?;
                ended.push(run_id);
            }
            Ok(ended)
        }

        /// What follows, in the same transaction, when the run `child` has just ended: its waiters and kept
        /// events go (no notify or deadline resumes an ended run, and `GET /v2/waiters` no longer lists
        /// them), and when it was invoked, the step that resumes its invoker with the outcome is appended
        /// (so it is sent once, and never lost; nothing when the invoker has ended meanwhile).
        async fn after_end_in(
            conn: &mut $conn,
            now: i64,
            child: &str,
            invoker: Option<&str>,
            end: &crate::domain::workflow::invoke::ChildEnd,
        ) -> Result<()> {
            for statement in [shared::workflows::WORKFLOW_WAITERS_DROP, shared::workflows::WORKFLOW_EVENTS_DROP] {
                sqlx::query(statement).bind(child).execute(&mut *conn).await?;
            }
            let Some(invoker) = invoker else { return Ok(()) };
            let invoker: crate::domain::workflow::invoke::Invoker = match serde_json::from_str(invoker) {
                Ok(invoker) => invoker,
                Err(error) => {
                    tracing::error!(%error, child, "the invoker of a run could not be read; it is not resumed");
                    return Ok(());
                }
            };
            let Some(run) = run_in(&mut *conn, &invoker.run_id).await? else { return Ok(()) };
            let Some(message) = crate::domain::workflow::invoke::result_message(&run, &invoker, end, now) else {
                tracing::error!(child, invoker = %invoker.run_id, "the step resuming an invoker could not be built");
                return Ok(());
            };
            append_in(conn, &invoker.run_id, now, std::slice::from_ref(&message)).await?;
            Ok(())
        }
    };
}

pub(in crate::store) use append_history_fn;
pub(in crate::store) use workflow_store;
