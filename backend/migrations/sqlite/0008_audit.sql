-- Who read a citizen's things besides the citizen (staff opening an application, an agent
-- opening a conversation, staff or agents reading a ticket): the citizen can see it, an auditor
-- can check it. Written by the service layer on every such read.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    owner_id TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX audit_log_owner ON audit_log (owner_id, at);
CREATE INDEX audit_log_object ON audit_log (object_kind, object_id);
