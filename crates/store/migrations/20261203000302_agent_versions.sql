-- Voice agents as versions: every state of an agent that calls could use is kept (calls record
-- the version that served them, and an older one can be restored), and the dashboard's editor
-- autosaves a draft beside the live agent.

CREATE TABLE interview_versions (
    interview_id TEXT NOT NULL,
    team_id TEXT NOT NULL REFERENCES teams(id),
    version BIGINT NOT NULL,
    created BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (interview_id, version)
);

-- What the editor saved: the agent's editable fields as sent (JSON), over the live version it
-- started from. Not validated beyond shape: work in progress may be incomplete.
CREATE TABLE interview_drafts (
    interview_id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    base_version BIGINT NOT NULL,
    saved BIGINT NOT NULL,
    body TEXT NOT NULL
);

-- The agents of before: their current state is their first kept version.
INSERT INTO interview_versions (interview_id, team_id, version, created, body)
    SELECT id, team_id, version, updated, body FROM interviews;

-- Calls by direction (the dashboard's filter): the call's `type`, as a column.
ALTER TABLE calls ADD COLUMN call_type TEXT NOT NULL DEFAULT 'PHONE_CALL';
UPDATE calls SET call_type = 'INBOUND_CALL' WHERE body LIKE '%"type":"INBOUND_CALL"%';
UPDATE calls SET call_type = 'BROWSER_CALL' WHERE body LIKE '%"type":"BROWSER_CALL"%';
