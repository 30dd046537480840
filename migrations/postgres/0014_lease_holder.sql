-- Recovery without waiting for a lease (issue 20): each claim records which instance holds the lease, so that
-- a restarted instance with a stable identity (--instance-id) takes its own unfinished leases back at start,
-- and a `dev` server that holds its SQLite file alone takes back every lease at start. Rows claimed before
-- this column existed have none and are rescued when their lease lapses, as before.
alter table messages add column lease_holder text;
