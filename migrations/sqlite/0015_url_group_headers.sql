-- Default headers of a URL group (webhook-receiver mode, `PATCH /v2/topics/{name}`): a JSON object of header
-- name to values, applied to every publish to the group where the publish did not set the header itself.
alter table url_groups add column headers text;
