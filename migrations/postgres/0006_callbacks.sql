-- Callbacks (spec §12.5): where to report each attempt and the final failure, with the callback's own
-- settings as JSON ({"url", "method", "timeoutMs", "retries", "retryDelay", "delayMs", "header"}).
alter table messages add column callback text;
alter table messages add column failure_callback text;
alter table schedules add column callback text;
alter table schedules add column failure_callback text;
