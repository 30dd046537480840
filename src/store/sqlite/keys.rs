//! SQLite: signing keys.

use super::*;

const SIGNING_KEYS_GET: &str = "
-- signing_keys_get: the stored key pair
select current, next from signing_keys where id = 1";

const SIGNING_KEYS_INIT: &str = "
-- signing_keys_init: store the first key pair unless one is stored already
insert into signing_keys (id, current, next) values (1, ?1, ?2) on conflict (id) do nothing";

const SIGNING_KEYS_ROTATE: &str = "
-- signing_keys_rotate: next becomes current, a fresh key becomes next
update signing_keys set current = next, next = ?1 where id = 1 returning current, next";

impl KeyStore for SqliteStore {
    shared::key_store!();
}
