-- Deduplication: a key seen within the window answers with the messages first published under it.
create table dedup (
    key        text primary key,     -- "id:<Upstash-Deduplication-Id>" or "content:<sha256 hex>"
    published  text not null,        -- JSON of the first publish's answer: [{"messageId", "url"}, ...]
    expires_at bigint not null
);
create index dedup_expires on dedup (expires_at);
