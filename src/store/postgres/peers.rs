//! Postgres: wake-ups between instances, through `NOTIFY`/`LISTEN` on one channel.

use super::*;

/// The channel every instance listens on; the payload is empty (a wake-up says only "look now").
const PEERS_CHANNEL: &str = "postdate_wake";

const PEERS_WAKE: &str = "
-- peers_wake: wake every instance listening on the channel
select pg_notify($1, '')";

impl PeerStore for PgStore {
    async fn peers_wake(&self) -> Result<()> {
        sqlx::query(PEERS_WAKE).bind(PEERS_CHANNEL).execute(&self.pool).await?;
        Ok(())
    }

    async fn peers_listen(&self) -> Result<Option<PeerListener>> {
        // LISTEN needs a session of its own; behind a transaction pooler only a direct URL gives one.
        let Some(url) = &self.listen_url else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(PEERS_CHANNEL).await?;
        Ok(Some(PeerListener::Postgres(listener)))
    }
}
