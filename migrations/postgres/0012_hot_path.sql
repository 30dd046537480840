-- Performance (issue 5): less work per message on the hot path.
--
-- Each message writes three log entries (CREATED, ACTIVE, DELIVERED); a foreign key made each of them lock
-- the message row (SELECT … FOR KEY SHARE). Retention now deletes a message's entries in the same statement
-- as the message, which is all the key did.
alter table message_events drop constraint if exists message_events_message_id_fkey;

-- Only queued messages need the FIFO index; before, every message got an entry in it at every state change.
drop index messages_queue_unfinished;
create index messages_queue_unfinished on messages (queue_name, queue_order)
    where state in ('pending', 'in_progress') and queue_name is not null;

-- Every message is updated twice and deleted later, so the table collects dead row versions quickly, and
-- the claim walks the due index from its oldest entries, stepping over the dead ones until a vacuum removes
-- them. Vacuum and analyze it far more often than the default (20% / 10% of the table).
alter table messages set (
    autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000
);
