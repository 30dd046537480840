-- Upstash-Redact-Fields (spec §2): which of a message's values the API and logs show only as a hash.
-- JSON {"body": bool, "allHeaders": bool, "headers": ["Name", ...]}; delivery always uses the originals.
alter table messages add column redact text;
