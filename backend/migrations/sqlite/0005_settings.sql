-- Settings the replicas share, such as the generated token signing key: one row a key.
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
