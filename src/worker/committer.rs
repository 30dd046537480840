//! Group commit for accepted messages: publishes arriving together are stored in one statement and one
//! transaction, and each request is answered only after the commit that holds its messages (so an accepted
//! message is always durable). Under light load a publish is written at once, alone; under heavy load the
//! batches grow by themselves, which is what lets the single SQLite writer and Postgres keep up.
//!
//! While the database is unreachable, publishes fail fast and independently: each has a budget for getting
//! a connection, counted from its arrival (so waiting behind other commits uses it up instead of adding to
//! it), a few commits run at once on Postgres (one stalled commit does not hold up the next), and a batch
//! that failed because the database is unavailable is not tried again job by job. Only the wait is bounded,
//! never a statement already running: a publish is either stored and acknowledged or not stored. A publish
//! whose client gave up before its commit began is not stored at all.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::domain::message::NewMessage;
use crate::store::{Result, Store, StoreError};

/// Most messages one commit carries.
const MAX_BATCH: usize = 1_000;
/// How long a publish may wait for a Postgres connection before it is answered 503 (the database is down,
/// restarting, or overloaded).
const POSTGRES_WAIT: Duration = Duration::from_secs(2);
/// The same for the single SQLite writer, which is only ever busy, never down: as long as its busy timeout.
const SQLITE_WAIT: Duration = Duration::from_secs(10);
/// Commits running at once on Postgres; SQLite has one writer, so one there.
const POSTGRES_COMMITS: usize = 4;

struct Job {
    messages: Vec<NewMessage>,
    done: oneshot::Sender<Result<()>>,
    /// When the publish stops waiting for a connection.
    deadline: Instant,
}

#[derive(Clone, Debug)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
    wait: Duration,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("messages", &self.messages.len()).finish()
    }
}

/// What a publish gets when the database could not be reached within its budget.
fn unavailable() -> StoreError {
    StoreError::Database(sqlx::Error::PoolTimedOut)
}

impl Committer {
    /// Starts the committing task; it ends when the last `Committer` is dropped.
    pub fn start(store: Store) -> Committer {
        let (wait, commits) = match store.backend_name() {
            "postgres" => (POSTGRES_WAIT, POSTGRES_COMMITS),
            _ => (SQLITE_WAIT, 1),
        };
        let (jobs, receiver) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(run(store, receiver, Arc::new(Semaphore::new(commits))));
        Committer { jobs, wait }
    }

    /// Stores `messages`, returning once they are committed.
    pub async fn insert(&self, store: &Store, messages: Vec<NewMessage>) -> Result<()> {
        let (done, result) = oneshot::channel();
        let deadline = Instant::now() + self.wait;
        let job = Job {
            messages,
            done,
            deadline,
        };
        match self.jobs.send(job).await {
            Ok(()) => match result.await {
                Ok(outcome) => outcome,
                // The task is gone (shutting down): store directly rather than lose the publish.
                Err(_) => Err(crate::store::StoreError::Database(sqlx::Error::PoolClosed)),
            },
            Err(mpsc::error::SendError(job)) => store.message_insert_within(&job.messages, self.wait).await,
        }
    }
}

async fn run(store: Store, mut receiver: mpsc::Receiver<Job>, commits: Arc<Semaphore>) {
    loop {
        // Jobs that arrive while every commit is busy wait in the channel and form the next batch.
        let permit = commits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let Some(first) = receiver.recv().await else {
            return;
        };
        let mut size = first.messages.len();
        let mut batch = vec![first];
        while size < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => {
                    size += job.messages.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        tokio::spawn(commit(store.clone(), batch, permit));
    }
}

async fn commit(store: Store, batch: Vec<Job>, _permit: OwnedSemaphorePermit) {
    let now = Instant::now();
    let mut live = Vec::with_capacity(batch.len());
    for job in batch {
        if job.done.is_closed() {
            // Its client went away (or its request was cut off): nobody would learn these ids, so they
            // are not stored, and a retry by the client cannot duplicate them.
            continue;
        }
        if job.deadline <= now {
            let _ = job.done.send(Err(unavailable()));
            continue;
        }
        live.push(job);
    }
    let Some(deadline) = live.iter().map(|job| job.deadline).min() else {
        return;
    };
    // The messages move into one list (no copies); each job remembers how many were its own.
    let mut all: Vec<NewMessage> = Vec::with_capacity(live.iter().map(|job| job.messages.len()).sum());
    let mut owners = Vec::with_capacity(live.len());
    for job in live {
        owners.push((job.messages.len(), job.done, job.deadline));
        all.extend(job.messages);
    }
    match store.message_insert_within(&all, deadline - now).await {
        Ok(()) => {
            for (_, done, _) in owners {
                let _ = done.send(Ok(()));
            }
        }
        Err(error) if error.is_unavailable() => {
            for (_, done, _) in owners {
                let _ = done.send(Err(unavailable()));
            }
        }
        // One bad job must not fail the others: each is stored (or refused) on its own.
        Err(_) => {
            let mut rest = all.as_slice();
            for (count, done, deadline) in owners {
                let (own, after) = rest.split_at(count);
                rest = after;
                let wait = deadline.saturating_duration_since(Instant::now());
                let _ = done.send(store.message_insert_within(own, wait).await);
            }
        }
    }
}
