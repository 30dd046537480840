//! Signing keys: given by configuration, or generated on first start and kept in the database so every
//! instance signs with the same pair and a rotation reaches all of them.

use std::sync::RwLock;

use crate::domain::ids::new_signing_key;
use crate::domain::signing::SigningKeys;
use crate::store::{self, Store};

#[derive(Debug)]
pub struct KeyRing {
    keys: RwLock<SigningKeys>,
    /// Keys from configuration cannot be rotated here: the next restart would bring the old ones back.
    configured: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("signing keys are set by configuration (QSTASH_CURRENT_SIGNING_KEY / QSTASH_NEXT_SIGNING_KEY): rotate them there")]
    Configured,
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl KeyRing {
    pub async fn load(store: &Store, configured: Option<SigningKeys>) -> store::Result<KeyRing> {
        let (keys, configured) = match configured {
            Some(keys) => (keys, true),
            None => {
                let fresh = SigningKeys {
                    current: new_signing_key(),
                    next: new_signing_key(),
                };
                (store.signing_keys_init(&fresh).await?, false)
            }
        };
        Ok(KeyRing {
            keys: RwLock::new(keys),
            configured,
        })
    }

    /// Whether the keys come from configuration (and so cannot be rotated here).
    pub fn is_configured(&self) -> bool {
        self.configured
    }

    pub fn get(&self) -> SigningKeys {
        self.keys.read().expect("key lock is never poisoned").clone()
    }

    /// Picks up a rotation made by another instance.
    pub async fn refresh(&self, store: &Store) -> store::Result<()> {
        if self.configured {
            return Ok(());
        }
        if let Some(keys) = store.signing_keys_get().await? {
            *self.keys.write().expect("key lock is never poisoned") = keys;
        }
        Ok(())
    }

    /// Next becomes current and a fresh key becomes next (spec §11.1).
    pub async fn rotate(&self, store: &Store) -> Result<SigningKeys, RotateError> {
        if self.configured {
            return Err(RotateError::Configured);
        }
        let keys = store.signing_keys_rotate(&new_signing_key()).await?;
        *self.keys.write().expect("key lock is never poisoned") = keys.clone();
        Ok(keys)
    }
}
