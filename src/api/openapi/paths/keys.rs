//! Signing keys (spec §11.1).

use crate::wire::SigningKeys;

#[utoipa::path(
    get,
    path = "/v2/keys",
    operation_id = "getKeys",
    tag = "Signing keys",
    summary = "Get the signing keys",
    description = "The keys that sign `Upstash-Signature` on deliveries: receivers accept either.",
    responses((status = 200, description = "The current and next keys", body = SigningKeys))
)]
pub fn get() {}

#[utoipa::path(
    post,
    path = "/v2/keys/rotate",
    operation_id = "rotateKeys",
    tag = "Signing keys",
    summary = "Rotate the signing keys",
    description = "`next` becomes `current` and a new `next` is made. 400 when the keys come from the \
        server's configuration.",
    responses(
        (status = 200, description = "The new keys", body = SigningKeys),
        (status = 400, description = "The keys come from the server's configuration: rotate them there", body = crate::wire::ErrorBody),
    )
)]
pub fn rotate() {}
