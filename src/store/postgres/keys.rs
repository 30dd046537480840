//! Postgres: signing keys.

use super::*;

const SIGNING_KEYS_GET: &str = "
-- signing_keys_get: the stored key pair
select current, next from signing_keys where id = 1";

const SIGNING_KEYS_INIT: &str = "
-- signing_keys_init: store the first key pair unless one is stored already
insert into signing_keys (id, current, next) values (1, $1, $2) on conflict (id) do nothing";

const SIGNING_KEYS_ROTATE: &str = "
-- signing_keys_rotate: next becomes current, a fresh key becomes next
update signing_keys set current = next, next = $1 where id = 1 returning current, next";

impl KeyStore for PgStore {
    async fn signing_keys_get(&self) -> Result<Option<SigningKeys>> {
        let row: Option<(String, String)> = sqlx::query_as(SIGNING_KEYS_GET).fetch_optional(&self.pool).await?;
        Ok(row.map(|(current, next)| SigningKeys { current, next }))
    }

    async fn signing_keys_init(&self, keys: &SigningKeys) -> Result<SigningKeys> {
        sqlx::query(SIGNING_KEYS_INIT)
            .bind(&keys.current)
            .bind(&keys.next)
            .execute(&self.pool)
            .await?;
        Ok(self.signing_keys_get().await?.unwrap_or_else(|| keys.clone()))
    }

    async fn signing_keys_rotate(&self, new_next: &str) -> Result<SigningKeys> {
        let (current, next): (String, String) = sqlx::query_as(SIGNING_KEYS_ROTATE)
            .bind(new_next)
            .fetch_one(&self.pool)
            .await?;
        Ok(SigningKeys { current, next })
    }
}
