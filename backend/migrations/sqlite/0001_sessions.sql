-- Conversations: one row a session, the dialogue state as JSON, and the transcript.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sessions_updated_at ON sessions (updated_at);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    intent TEXT,
    payload TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_session ON messages (session_id, id);
