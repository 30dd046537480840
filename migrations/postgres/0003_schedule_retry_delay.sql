-- Schedules keep the Upstash-Retry-Delay expression of the messages they fire.
alter table schedules add column retry_delay_expression text;
