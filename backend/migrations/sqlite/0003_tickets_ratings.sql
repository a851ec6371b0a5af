-- 12345 tickets (接诉即办) with co-handling departments, a notification outbox, and
-- 好差评 ratings with their rectification tasks.
CREATE TABLE tickets (
    number TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    category TEXT NOT NULL,
    department TEXT NOT NULL,
    district TEXT,
    citizen_id TEXT,
    contact TEXT,
    summary TEXT NOT NULL,
    location TEXT NOT NULL,
    happened TEXT,
    urgent BIGINT NOT NULL,
    state TEXT NOT NULL,
    response_due BIGINT NOT NULL,
    resolve_due BIGINT NOT NULL,
    paused_since BIGINT,
    supervised BIGINT NOT NULL,
    accepted_at BIGINT,
    replied_at BIGINT,
    reply TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tickets_citizen ON tickets (citizen_id, created_at);
CREATE INDEX tickets_department ON tickets (department, resolve_due);

CREATE TABLE ticket_events (
    number TEXT NOT NULL,
    seq BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    note TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (number, seq)
);

CREATE TABLE ticket_coops (
    number TEXT NOT NULL,
    department TEXT NOT NULL,
    state TEXT NOT NULL,
    due BIGINT NOT NULL,
    note TEXT,
    PRIMARY KEY (number, department)
);

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient TEXT NOT NULL,
    ticket_number TEXT,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX notifications_recipient ON notifications (recipient, id);

CREATE TABLE ratings (
    id TEXT PRIMARY KEY NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    citizen_id TEXT NOT NULL,
    level BIGINT NOT NULL,
    tags TEXT NOT NULL,
    comment TEXT NOT NULL,
    channel TEXT NOT NULL,
    department TEXT NOT NULL,
    service_id TEXT,
    excluded BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ratings_one_per_target ON ratings (target_kind, target_id, citizen_id);

CREATE TABLE rectifications (
    rating_id TEXT PRIMARY KEY NOT NULL,
    department TEXT NOT NULL,
    state TEXT NOT NULL,
    due BIGINT NOT NULL,
    verification TEXT,
    rectification TEXT,
    return_visit TEXT,
    appeal TEXT,
    done_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
