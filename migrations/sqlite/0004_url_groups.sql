-- URL groups ("topics" on the wire): publishing to a group fans out one message per endpoint.
-- SQLite: same shape as the Postgres migration of the same number.
create table url_groups (
    name       text primary key,
    created_at integer not null,
    updated_at integer not null
);

create table url_group_endpoints (
    group_name text not null references url_groups (name) on delete cascade,
    url        text not null,
    name       text,
    added_at   integer not null,
    primary key (group_name, url)
);
