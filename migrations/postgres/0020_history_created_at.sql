-- When each history entry was published (issue 19): the workflow logs' `createdAt` of a step, and the times
-- of the console's run timeline. Entries written before this column existed show 0.
alter table workflow_history add column created_at bigint not null default 0;
