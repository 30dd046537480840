-- Deduplication: a key seen within the window answers with the messages first published under it.
-- SQLite: same shape as the Postgres migration of the same number.
create table dedup (
    key        text primary key,     -- "id:<Upstash-Deduplication-Id>" or "content:<sha256 hex>"
    published  text not null,        -- JSON of the first publish's answer: [{"messageId", "url"}, ...]
    expires_at integer not null
);
create index dedup_expires on dedup (expires_at);
