-- People and companies (统一身份认证 subjects), their e-licences, applications with their
-- audit log, and form drafts that outlive a conversation.
CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    department TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE e_licenses (
    holder_id TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    number TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    expires_on TEXT,
    fields TEXT NOT NULL,
    PRIMARY KEY (holder_id, kind)
);

CREATE TABLE applications (
    number TEXT PRIMARY KEY NOT NULL,
    service_id TEXT NOT NULL,
    applicant_id TEXT NOT NULL,
    parent_number TEXT,
    state TEXT NOT NULL,
    fields TEXT NOT NULL,
    materials TEXT NOT NULL,
    idempotency_key TEXT,
    deadline TEXT,
    note TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX applications_idempotency ON applications (applicant_id, idempotency_key);
CREATE INDEX applications_applicant ON applications (applicant_id, created_at);
CREATE INDEX applications_parent ON applications (parent_number);

CREATE TABLE application_events (
    number TEXT NOT NULL,
    seq BIGINT NOT NULL,
    actor TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    reason TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (number, seq)
);

CREATE TABLE drafts (
    user_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, service_id)
);
