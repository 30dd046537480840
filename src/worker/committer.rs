//! Group commit for accepted messages: publishes arriving together are stored in one statement and one
//! transaction, and each request is answered only after the commit that holds its messages (so an accepted
//! message is always durable). Under light load a publish is written at once, alone; under heavy load the
//! batches grow by themselves, which is what lets the single SQLite writer and Postgres keep up.

use tokio::sync::{mpsc, oneshot};

use crate::domain::message::NewMessage;
use crate::store::{Result, Store};

/// Most messages one commit carries.
const MAX_BATCH: usize = 1_000;

struct Job {
    messages: Vec<NewMessage>,
    done: oneshot::Sender<Result<()>>,
}

#[derive(Clone, Debug)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("messages", &self.messages.len()).finish()
    }
}

impl Committer {
    /// Starts the committing task; it ends when the last `Committer` is dropped.
    pub fn start(store: Store) -> Committer {
        let (jobs, receiver) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(run(store, receiver));
        Committer { jobs }
    }

    /// Stores `messages`, returning once they are committed.
    pub async fn insert(&self, store: &Store, messages: Vec<NewMessage>) -> Result<()> {
        let (done, result) = oneshot::channel();
        let job = Job { messages, done };
        match self.jobs.send(job).await {
            Ok(()) => match result.await {
                Ok(outcome) => outcome,
                // The task is gone (shutting down): store directly rather than lose the publish.
                Err(_) => Err(crate::store::StoreError::Database(sqlx::Error::PoolClosed)),
            },
            Err(mpsc::error::SendError(job)) => store.message_insert(&job.messages).await,
        }
    }
}

async fn run(store: Store, mut receiver: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut size = first.messages.len();
        batch.push(first);
        while size < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => {
                    size += job.messages.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        // The messages move into one list (no copies); each job remembers how many were its own.
        let mut all: Vec<NewMessage> = Vec::with_capacity(size);
        let mut owners = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            owners.push((job.messages.len(), job.done));
            all.extend(job.messages);
        }
        match store.message_insert(&all).await {
            Ok(()) => {
                for (_, done) in owners {
                    let _ = done.send(Ok(()));
                }
            }
            // One bad job must not fail the others: each is stored (or refused) on its own.
            Err(_) => {
                let mut rest = all.as_slice();
                for (count, done) in owners {
                    let (own, after) = rest.split_at(count);
                    rest = after;
                    let _ = done.send(store.message_insert(own).await);
                }
            }
        }
    }
}
