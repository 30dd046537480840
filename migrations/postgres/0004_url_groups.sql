-- URL groups ("topics" on the wire): publishing to a group fans out one message per endpoint.
create table url_groups (
    name       text primary key,
    created_at bigint not null,
    updated_at bigint not null
);

create table url_group_endpoints (
    group_name text not null references url_groups (name) on delete cascade,
    url        text not null,
    name       text,
    added_at   bigint not null,
    primary key (group_name, url)
);
