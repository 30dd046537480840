//! SQLite: one process at a time on a database file. `dev` (and `serve` on SQLite) takes an exclusive OS
//! lock on a file beside the database (`<database>.lock`) for as long as it runs, so a second server on the
//! same file fails at start with a clear error instead of sharing it, and the one that holds the lock knows
//! that every lease in the file it does not hold itself was left by a process that is gone (it takes them
//! back at start instead of waiting for them to lapse). The OS lets go of the lock when the process dies,
//! kill -9 included, so a stale lock file never blocks a restart. Tools that open the file without the lock
//! (`postdate migrate`, the `sqlite3` shell) hold no leases and are not kept out.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::store::{Result, StoreError};

#[derive(Debug)]
pub struct SoleOwner {
    /// Held open and locked: unlocking or closing it (or the process ending) releases the lock.
    file: File,
}

impl SoleOwner {
    /// Takes the lock of the database at `database`; `None` for an in-memory database (no other process
    /// can open it). Fails with [`StoreError::InUse`] while another process holds it.
    pub fn take(database: &Path) -> Result<Option<SoleOwner>> {
        if database.as_os_str().is_empty() || database.as_os_str() == ":memory:" {
            return Ok(None);
        }
        let path = lock_path(database);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(sqlx::Error::Io)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(SoleOwner { file })),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse {
                database: database.display().to_string(),
                lock: path.display().to_string(),
            }),
            Err(std::fs::TryLockError::Error(error)) => Err(sqlx::Error::Io(error).into()),
        }
    }
}

impl SoleOwner {
    /// Lets go of the file when the store closes, even while clones of the store still exist (a process
    /// that starts the app again on the same file, as tests do, must not find it locked).
    pub fn release(&self) {
        let _ = self.file.unlock();
    }
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::SoleOwner;
    use crate::store::StoreError;

    #[test]
    fn a_second_owner_of_one_file_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("dev.db");
        let first = SoleOwner::take(&database).unwrap().expect("a file database is locked");
        let refused = SoleOwner::take(&database).unwrap_err();
        assert!(matches!(refused, StoreError::InUse { .. }), "{refused}");
        assert!(refused.to_string().contains("dev.db.lock"), "{refused}");
        drop(first);
        assert!(SoleOwner::take(&database).unwrap().is_some(), "free again");
        assert!(SoleOwner::take(std::path::Path::new(":memory:")).unwrap().is_none());
    }
}
