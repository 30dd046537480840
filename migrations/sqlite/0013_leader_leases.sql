-- Leadership of a singleton loop (the cron scheduler) as a lease row with a term, instead of a session
-- advisory lock: it works behind transaction-mode connection poolers (which give no lasting session) and on
-- Postgres-compatible databases without advisory locks. The holder renews the lease; another instance takes
-- over (with the next term) once it lapsed, or at once when the holder releases it on shutdown.
create table leader_leases (
    name        text primary key,
    holder      text not null,
    term        bigint not null,
    lease_until bigint not null
);
