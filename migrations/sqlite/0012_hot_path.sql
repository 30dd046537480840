-- Performance (issue 5), same number as the Postgres migration: only queued messages need the FIFO index.
-- (SQLite keeps the log's foreign key: its check is an in-process primary-key lookup, not a row lock, and
-- dropping it would mean rebuilding the table.)
drop index messages_queue_unfinished;
create index messages_queue_unfinished on messages (queue_name, queue_order)
    where state in ('pending', 'in_progress') and queue_name is not null;

-- The next FIFO position is the largest given so far plus one; found through this index, not a scan.
create index messages_queue_order on messages (queue_order) where queue_order is not null;
