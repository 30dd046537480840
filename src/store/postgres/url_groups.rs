//! Postgres: URL groups and their endpoints.

use super::*;

const URL_GROUP_TOUCH: &str = "
-- url_group_upsert_endpoints (group): create the group, or mark it updated
insert into url_groups (name, created_at, updated_at) values ($1, $2, $2)
on conflict (name) do update set updated_at = excluded.updated_at";

const URL_GROUP_ENDPOINTS_UPSERT: &str = "
-- url_group_upsert_endpoints (endpoints): add endpoints, or rename those already there
insert into url_group_endpoints (group_name, url, name, added_at)
select $1, url, name, $2 from unnest($3::text[], $4::text[]) as e(url, name)
on conflict (group_name, url) do update set name = excluded.name";

const URL_GROUP_ENDPOINTS_REMOVE: &str = "
-- url_group_remove_endpoints: remove endpoints by URL or by name
delete from url_group_endpoints where group_name = $1 and (url = any($2) or name = any($3))";

const URL_GROUP_DELETE_IF_EMPTY: &str = "
-- url_group_remove_endpoints (cleanup): a group without endpoints is deleted
delete from url_groups g
where g.name = $1 and not exists (select 1 from url_group_endpoints e where e.group_name = g.name)";

const URL_GROUP_MARK_UPDATED: &str = "
-- url_group_remove_endpoints (touch): mark the group updated
update url_groups set updated_at = $2 where name = $1";

const URL_GROUP_SET_HEADERS: &str = "
-- url_group_set_headers: replace the default headers of a group
update url_groups set headers = $2, updated_at = $3 where name = $1";

const URL_GROUP_GET: &str = "
-- url_group_get: one group
select name, created_at, updated_at, headers from url_groups where name = $1";

const URL_GROUP_LIST: &str = "
-- url_group_list: every group, by name
select name, created_at, updated_at, headers from url_groups order by name";

const URL_GROUP_ENDPOINTS: &str = "
-- url_group_get / url_group_list: endpoints of the named groups (all groups when $1 is null)
select group_name, url, name from url_group_endpoints
where $1::text is null or group_name = $1
order by group_name, added_at, url";

const URL_GROUP_DELETE: &str = "
-- url_group_delete: remove a group and its endpoints
delete from url_groups where name = $1";

impl UrlGroupStore for PgStore {
    shared::url_group_store!();
}

/// Adds or renames `endpoints` of group `name`, all in one statement over bound arrays.
async fn upsert_endpoints(
    conn: &mut PgConnection,
    name: &str,
    endpoints: &[(String, Option<String>)],
    now: i64,
) -> Result<()> {
    let (urls, names): (Vec<String>, Vec<Option<String>>) = endpoints.iter().cloned().unzip();
    sqlx::query(URL_GROUP_ENDPOINTS_UPSERT)
        .bind(name)
        .bind(now)
        .bind(urls)
        .bind(names)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes the endpoints of group `name` with one of `urls` or `names`, in one statement.
async fn remove_endpoints(conn: &mut PgConnection, name: &str, urls: &[String], names: &[String]) -> Result<()> {
    sqlx::query(URL_GROUP_ENDPOINTS_REMOVE)
        .bind(name)
        .bind(urls)
        .bind(names)
        .execute(conn)
        .await?;
    Ok(())
}
