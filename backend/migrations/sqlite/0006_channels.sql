-- Messaging platforms: a platform user (channel, account, openid) bound to a banshi user, and
-- the one-time codes that prove the binding (sent to the platform user, entered after login).
CREATE TABLE channel_bindings (
    channel TEXT NOT NULL,
    account TEXT NOT NULL,
    openid TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel, account, openid)
);

CREATE TABLE channel_bind_codes (
    code TEXT PRIMARY KEY NOT NULL,
    channel TEXT NOT NULL,
    account TEXT NOT NULL,
    openid TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
