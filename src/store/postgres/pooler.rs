//! Postgres: finding out at start whether the database URL leads to a connection pooler in transaction (or
//! statement) mode, so that `serve` pointed at a pooled URL (PgBouncer `pool_mode = transaction`, the
//! pooled connection strings of Supabase and Neon) without `--transaction-pooler` does not run with session
//! state and cached prepared statements it cannot have there.
//!
//! The evidence is the server session behind each connection (`pg_backend_pid()`): on a direct connection,
//! or through a pooler in session mode, a connection keeps one server session for its whole life, and two
//! connections open at the same time never share one. So the probe opens two connections, asks each for its
//! backend pid several times while the other holds a transaction open (which pins that session, so the
//! pooler must hand the asking connection another one), and calls the URL pooled as soon as one connection
//! reported two pids or both reported the same one. On a direct server neither can happen, so the probe
//! never misfires there; only a pooler that happened to give each connection the same session every time
//! could hide from it. Every statement is a simple query (no prepared statement is left on a pooled
//! session) and none changes session state.

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor, Row};
use std::collections::HashSet;
use std::time::Duration;

const BACKEND_PID: &str = "
-- (start: pooler probe): which server session runs this statement
select pg_backend_pid()";

const PROBE_BEGIN: &str = "
-- (start: pooler probe): pin this connection's server session while the other connection asks
begin";

const PROBE_END: &str = "
-- (start: pooler probe): let the session go
rollback";

/// Rounds of the probe; each pins the session of one connection while the other asks.
const ROUNDS: usize = 4;

/// Longest one answer of the probe may take. A pooler with one server connection for this database makes
/// the asking connection wait for the pinned one: that is evidence too (a direct server never makes a
/// plain `select` wait for another connection's empty transaction).
const ANSWER_WAIT: Duration = Duration::from_secs(3);

/// Longest the probe waits for a connection.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Each connection kept one server session of its own: direct, or a pooler in session mode.
    Direct,
    /// Server sessions changed under a connection or were shared by two: a transaction-mode pooler.
    TransactionPooler { evidence: String },
}

/// Probes the server behind `options` (see the module comment).
pub async fn probe(options: &PgConnectOptions) -> sqlx::Result<Probe> {
    let mut a = connect(options).await?;
    let mut b = connect(options).await?;
    let result = probe_on(&mut a, &mut b).await;
    // Best effort, bounded: a connection whose answer timed out may still be waiting for it.
    let _ = tokio::time::timeout(ANSWER_WAIT, async move {
        let _ = a.close().await;
        let _ = b.close().await;
    })
    .await;
    result
}

/// A connection for the probe, within [`CONNECT_WAIT`] (an unreachable server fails the start as a pool
/// would, instead of hanging until TCP gives up).
async fn connect(options: &PgConnectOptions) -> sqlx::Result<PgConnection> {
    match tokio::time::timeout(CONNECT_WAIT, options.connect()).await {
        Ok(connected) => connected,
        Err(_) => Err(sqlx::Error::Io(std::io::ErrorKind::TimedOut.into())),
    }
}

async fn probe_on(a: &mut PgConnection, b: &mut PgConnection) -> sqlx::Result<Probe> {
    let mut seen = [Vec::new(), Vec::new()];
    seen[0].push(pid(a).await?);
    seen[1].push(pid(b).await?);
    if let Some(verdict) = judge(&seen) {
        return Ok(verdict);
    }
    for round in 0..ROUNDS {
        let (pinned, asking, p, q) = if round % 2 == 0 {
            (&mut *b, &mut *a, 1, 0)
        } else {
            (&mut *a, &mut *b, 0, 1)
        };
        pinned.execute(PROBE_BEGIN).await?;
        seen[p].push(pid(pinned).await?);
        let answer = tokio::time::timeout(ANSWER_WAIT, pid(asking)).await;
        let Ok(answer) = answer else {
            return Ok(Probe::TransactionPooler {
                evidence: format!(
                    "a connection waited over {}s for its session while another connection held a transaction",
                    ANSWER_WAIT.as_secs()
                ),
            });
        };
        seen[q].push(answer?);
        pinned.execute(PROBE_END).await?;
        if let Some(verdict) = judge(&seen) {
            return Ok(verdict);
        }
    }
    Ok(Probe::Direct)
}

async fn pid(conn: &mut PgConnection) -> sqlx::Result<i32> {
    // A plain string runs as a simple query: nothing is prepared on the (possibly pooled) session.
    conn.fetch_one(BACKEND_PID).await?.try_get(0)
}

/// The verdict once the pids each connection reported prove pooling; `None` while they do not.
fn judge(seen: &[Vec<i32>; 2]) -> Option<Probe> {
    for (n, pids) in seen.iter().enumerate() {
        let distinct: HashSet<i32> = pids.iter().copied().collect();
        if distinct.len() > 1 {
            return Some(Probe::TransactionPooler {
                evidence: format!("one connection ran on server sessions {pids:?} (connection {})", n + 1),
            });
        }
    }
    let first: HashSet<i32> = seen[0].iter().copied().collect();
    if let Some(shared) = seen[1].iter().find(|pid| first.contains(pid)) {
        return Some(Probe::TransactionPooler {
            evidence: format!("two open connections both ran on server session {shared}"),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{judge, Probe};

    #[test]
    fn stable_separate_sessions_are_direct_and_moved_or_shared_sessions_are_pooled() {
        assert_eq!(judge(&[vec![10, 10, 10], vec![11, 11]]), None);
        assert!(matches!(
            judge(&[vec![10, 12], vec![11]]),
            Some(Probe::TransactionPooler { .. })
        ));
        assert!(matches!(
            judge(&[vec![10], vec![10]]),
            Some(Probe::TransactionPooler { .. })
        ));
    }
}
