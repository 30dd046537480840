//! SQLite: one process owns the file, so there are no other instances to wake.

use super::*;

impl PeerStore for SqliteStore {
    async fn peers_wake(&self) -> Result<()> {
        Ok(())
    }

    async fn peers_listen(&self) -> Result<Option<PeerListener>> {
        Ok(None)
    }
}
