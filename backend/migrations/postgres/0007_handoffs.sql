-- Conversations handed to a human agent (转人工): waiting, taken by an agent, closed. At most
-- one open hand-over a conversation. While one is open the citizen's messages go to the agent,
-- and the agent's replies join the transcript (and reach a messaging-platform user).
CREATE TABLE handoffs (
    id TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    account TEXT,
    openid TEXT,
    user_id TEXT,
    state TEXT NOT NULL,
    agent_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX handoffs_open ON handoffs (session_id) WHERE state <> 'closed';
CREATE INDEX handoffs_state ON handoffs (state, created_at);
