-- Knowledge gaps: what citizens asked that no guide answered well (declined, or only a
-- clarifying question), and the reasons of bad ratings; personal data masked before it is
-- written. Grouped by meaning when read (`GET /api/v1/stats/gaps`, `banshi gaps`).
CREATE TABLE gaps (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    closest TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX gaps_created ON gaps (created_at);
