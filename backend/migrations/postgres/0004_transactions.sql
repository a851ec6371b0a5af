-- The transaction core: numbers from per-day sequences, tickets keyed by the turn that filed
-- them (a retried turn never files twice), and stored first responses for retried requests
-- (the Idempotency-Key header).
CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);

ALTER TABLE tickets ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX tickets_idempotency ON tickets (idempotency_key);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT,
    response TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
