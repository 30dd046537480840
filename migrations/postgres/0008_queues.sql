-- Queues (spec §7): FIFO per queue with a parallelism. A queued message may start only while fewer than
-- `parallelism` unfinished messages of its queue come before it in queue order.
create table queues (
    name        text primary key,
    parallelism integer not null,
    paused      boolean not null default false,
    created_at  bigint not null,
    updated_at  bigint not null
);

-- The FIFO position; callbacks take their source message's position so that they run before the next one.
alter table messages add column queue_order bigint;
create sequence message_queue_order;

-- Unfinished messages of a queue, in order.
create index messages_queue_unfinished on messages (queue_name, queue_order)
    where state in ('pending', 'in_progress');
alter table schedules add column queue_name text;
