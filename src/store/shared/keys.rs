//! Signing keys: all of them. Every statement runs on the writer, so a read sees the keys just stored.

macro_rules! key_store {
    () => {
        async fn signing_keys_get(&self) -> Result<Option<SigningKeys>> {
            let row: Option<(String, String)> = sqlx::query_as(SIGNING_KEYS_GET)
                .fetch_optional(self.writes())
                .await?;
            Ok(row.map(|(current, next)| SigningKeys { current, next }))
        }

        async fn signing_keys_init(&self, keys: &SigningKeys) -> Result<SigningKeys> {
            sqlx::query(SIGNING_KEYS_INIT)
                .bind(&keys.current)
                .bind(&keys.next)
                .execute(self.writes())
                .await?;
            Ok(self.signing_keys_get().await?.unwrap_or_else(|| keys.clone()))
        }

        async fn signing_keys_rotate(&self, new_next: &str) -> Result<SigningKeys> {
            let (current, next): (String, String) = sqlx::query_as(SIGNING_KEYS_ROTATE)
                .bind(new_next)
                .fetch_one(self.writes())
                .await?;
            Ok(SigningKeys { current, next })
        }
    };
}

pub(in crate::store) use key_store;
