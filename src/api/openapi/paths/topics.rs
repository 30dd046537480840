//! URL groups, "topics" in the paths (spec §6).

use crate::wire::{Empty, UrlGroup};

#[utoipa::path(
    get,
    path = "/v2/topics",
    operation_id = "listUrlGroups",
    tag = "URL groups",
    summary = "List URL groups",
    responses((status = 200, description = "Every group", body = Vec<UrlGroup>))
)]
pub fn list() {}

#[utoipa::path(
    get,
    path = "/v2/topics/{name}",
    operation_id = "getUrlGroup",
    tag = "URL groups",
    summary = "Get a URL group",
    params(("name" = String, Path, description = "Group name")),
    responses((status = 200, description = "The group", body = UrlGroup))
)]
pub fn get() {}

#[utoipa::path(
    delete,
    path = "/v2/topics/{name}",
    operation_id = "deleteUrlGroup",
    tag = "URL groups",
    summary = "Delete a URL group",
    description = "Idempotent. Messages already accepted keep going.",
    params(("name" = String, Path, description = "Group name")),
    responses((status = 200, description = "Deleted", body = Empty))
)]
pub fn delete() {}

#[utoipa::path(
    patch,
    path = "/v2/topics/{name}",
    operation_id = "setUrlGroupHeaders",
    tag = "URL groups",
    summary = "Set a URL group's default headers",
    description = "Webhook-receiver mode: headers applied to every publish to the group where the publish did not \
        set them itself. `Upstash-*` names are publish options (checked as a publish reads them); any other name \
        is forwarded to the endpoints. Replaces the headers set before; `{\"headers\": {}}` removes them.",
    params(("name" = String, Path, description = "Group name")),
    request_body(content = crate::wire::GroupHeadersBody),
    responses((status = 200, description = "The group with its headers", body = UrlGroup))
)]
pub fn set_headers() {}

#[utoipa::path(
    post,
    path = "/v2/topics/{name}/endpoints",
    operation_id = "addEndpoints",
    tag = "URL groups",
    summary = "Add endpoints",
    description = "Creates the group if it is missing; an endpoint whose URL is there already takes the new name.",
    params(("name" = String, Path, description = "Group name: letters, digits, `-`, `_`, `.`", example = "orders")),
    request_body(content = crate::wire::EndpointsBody,
        example = json!({"endpoints": [{"url": "https://example.com/a", "name": "a"}]})),
    responses((status = 200, description = "Added", body = Empty))
)]
pub fn add_endpoints() {}

#[utoipa::path(
    delete,
    path = "/v2/topics/{name}/endpoints",
    operation_id = "removeEndpoints",
    tag = "URL groups",
    summary = "Remove endpoints",
    description = "Removes endpoints named by URL or name; a group left empty is deleted.",
    params(("name" = String, Path, description = "Group name")),
    request_body(content = crate::wire::EndpointsBody,
        example = json!({"endpoints": [{"name": "a"}]})),
    responses((status = 200, description = "Removed", body = Empty))
)]
pub fn remove_endpoints() {}
