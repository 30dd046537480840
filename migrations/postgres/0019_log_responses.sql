-- The response of a failed attempt on its ERROR log entry (issue 23): `responseHeaders` and `responseBody` of
-- Upstash's LogEntry. Only ERROR entries of attempts that got an HTTP response have them; the body is cut to
-- --log-response-bytes when it is written, so a log entry stays small whatever the destination answers.
alter table message_events add column response_header text; -- JSON: header name to values
alter table message_events add column response_body bytea;
