//! How statements reach Postgres: directly (a dedicated session per pooled connection: plain Postgres, or a
//! pooler in session mode) or through a pooler in transaction mode (PgBouncer's `pool_mode = transaction`,
//! the pooled connection strings of Supabase and Neon), where consecutive transactions of one connection
//! may run on different server sessions, so nothing may rely on session state.
//!
//! In transaction mode every statement runs inside a transaction (a statement outside one is wrapped in
//! its own), because sqlx prepares a statement and executes it in two protocol round trips and the pooler
//! may switch sessions between them; each transaction first drops the prepared statements other clients
//! left on the session (sqlx names them `sqlx_s_<n>`, counting from 1 on every connection, so names
//! collide) and sets what the hot statements need with `set local`, which ends with the transaction. The
//! statement cache is off (a cached statement would not exist on the next session). The cost: every
//! statement is parsed and planned each time, and a statement outside a transaction takes two more round
//! trips (begin, commit) plus the prelude.

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool, PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Describe, Either, Execute, Executor, Postgres, Transaction};

/// Run at the start of every transaction in transaction-pooling mode (simple protocol, no statement to
/// prepare): other clients' prepared statements go, and plain index scans only (see `NO_BITMAP_SCANS`).
const TRANSACTION_PRELUDE: &str = "
-- (every transaction behind a transaction pooler): forget other clients' prepared statements, plain index scans
deallocate all; set local enable_bitmapscan = off";

/// The pool, and whether it sits behind a transaction-mode pooler.
#[derive(Clone, Debug)]
pub struct Sessions {
    pub pool: PgPool,
    pub transaction_pooler: bool,
}

impl Sessions {
    pub async fn begin(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        self.prelude(&mut tx).await?;
        Ok(tx)
    }

    pub async fn acquire(&self) -> sqlx::Result<PoolConnection<Postgres>> {
        self.pool.acquire().await
    }

    /// Begins a transaction on a connection already taken from the pool.
    pub async fn begin_on<'c>(&self, conn: &'c mut PgConnection) -> sqlx::Result<Transaction<'c, Postgres>> {
        let mut tx = sqlx::Connection::begin(conn).await?;
        self.prelude(&mut tx).await?;
        Ok(tx)
    }

    async fn prelude(&self, conn: &mut PgConnection) -> sqlx::Result<()> {
        if self.transaction_pooler {
            // A plain string runs as a simple query: no statement to prepare, several statements allowed.
            conn.execute(TRANSACTION_PRELUDE).await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await
    }
}

// Like sqlx's own impl for `&Pool`: any executor lifetime, the pool cloned into the future (so the future
// does not borrow the reference, which keeps it `Send` for every lifetime).
impl<'p> Executor<'p> for &'_ Sessions {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, sqlx::Result<Either<PgQueryResult, PgRow>>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.transaction_pooler {
            return self.pool.fetch_many(query);
        }
        let db = self.clone();
        let results = async move {
            let mut tx = db.begin().await?;
            let results: Vec<_> = (&mut *tx).fetch_many(query).try_collect().await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(results)
        };
        stream::once(results)
            .map_ok(|results| stream::iter(results.into_iter().map(Ok::<_, sqlx::Error>)))
            .try_flatten()
            .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<Option<PgRow>>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.transaction_pooler {
            return self.pool.fetch_optional(query);
        }
        let db = self.clone();
        Box::pin(async move {
            let mut tx = db.begin().await?;
            let row = (&mut *tx).fetch_optional(query).await?;
            tx.commit().await?;
            Ok(row)
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, sqlx::Result<PgStatement<'q>>>
    where
        'p: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, sqlx::Result<Describe<Postgres>>>
    where
        'p: 'e,
    {
        self.pool.describe(sql)
    }
}
