-- Portable SQL: the same schema runs on SQLite and PostgreSQL. Only TEXT and BIGINT are used, so
-- sqlx's Any driver decodes every column the same way on both (ids are TEXT UUIDs, times are
-- BIGINT milliseconds since the epoch in UTC, JSON is TEXT).

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    signing_secret TEXT NOT NULL,
    allow_premium BIGINT NOT NULL DEFAULT 0,
    max_concurrent_calls BIGINT NOT NULL DEFAULT 10,
    created BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created BIGINT NOT NULL,
    revoked BIGINT
);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    name TEXT,
    phone_number TEXT NOT NULL,
    email TEXT,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    lead_source TEXT NOT NULL,
    UNIQUE (team_id, phone_number)
);
CREATE INDEX contacts_team_created ON contacts (team_id, created);

-- Tags again, one row each, so "any of these tags" is an indexed, portable EXISTS.
CREATE TABLE contact_tags (
    contact_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
);
CREATE INDEX contact_tags_team_tag ON contact_tags (team_id, tag);

CREATE TABLE interviews (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    version BIGINT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX interviews_team ON interviews (team_id, created);

CREATE TABLE bulk_jobs (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    interview_id TEXT NOT NULL,
    created BIGINT NOT NULL,
    body TEXT NOT NULL
);

-- A call's queryable fields are columns; the whole API object is `body`.
CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    interview_id TEXT NOT NULL,
    contact_id TEXT,
    job_id TEXT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    progress TEXT NOT NULL,
    response_tags TEXT NOT NULL,
    search_text TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX calls_team_interview ON calls (team_id, interview_id, created);
CREATE INDEX calls_team_progress ON calls (team_id, progress);

CREATE TABLE call_events (
    id TEXT PRIMARY KEY,
    call_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    progress TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX call_events_call ON call_events (call_id, at);

-- interview_id is '' for a subscription to every agent (a NULL would escape the UNIQUE).
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    event_type TEXT NOT NULL,
    url TEXT NOT NULL,
    interview_id TEXT NOT NULL,
    created BIGINT NOT NULL,
    UNIQUE (team_id, event_type, url, interview_id)
);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    last_status_code BIGINT,
    last_error TEXT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    next_attempt BIGINT
);
CREATE INDEX webhook_deliveries_team ON webhook_deliveries (team_id, created);

-- The durable job queue shared by webhook deliveries, dialing and (later) automation steps.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    team_id TEXT,
    payload TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    locked_by TEXT,
    last_error TEXT,
    created BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at);
