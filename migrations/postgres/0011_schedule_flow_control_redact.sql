-- Schedules keep the flow control (JSON {"key", "parallelism", "rate", "periodMs"}) and the redaction of the
-- messages they fire.
alter table schedules add column flow_control text;
alter table schedules add column redact text;
