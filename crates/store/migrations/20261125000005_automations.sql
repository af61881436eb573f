-- Automations: a trigger plus a workflow of steps, and their runs. Portable SQL, as in the first
-- migration: TEXT and BIGINT only.

-- The current version of each automation; `body` is its API object (model::Automation JSON).
-- `trigger_type` and `mode` are columns so the event fan-out finds live automations by trigger
-- with one indexed read. `schedule_next_at` is the next slot a schedule trigger fires (the
-- schedule job reads it, so a slot is neither lost nor fired twice across restarts).
CREATE TABLE automations (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    name TEXT NOT NULL,
    mode TEXT NOT NULL,
    trigger_type TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    sample_payload TEXT,
    schedule_next_at BIGINT,
    schedule_job_id TEXT,
    deleted BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX automations_team ON automations (team_id, deleted, created);
CREATE INDEX automations_trigger ON automations (team_id, trigger_type, mode, deleted);

-- Every saved version: a run keeps the version it started with.
CREATE TABLE automation_versions (
    automation_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (automation_id, version)
);

-- One firing of an automation. `state` is the interpreter's durable state (cursor, loop frames,
-- variables). `trigger_key` makes a firing idempotent: a schedule slot, an event's job id; the
-- unique index turns a second start of the same firing into a no-op (NULL keys never collide).
-- `job_id` is the run's job (woken early when a call it waits for ends).
CREATE TABLE automation_runs (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    automation_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    trigger_key TEXT,
    state TEXT NOT NULL,
    job_id TEXT,
    waiting_call_id TEXT,
    wake_at BIGINT,
    error TEXT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    finished BIGINT
);
CREATE UNIQUE INDEX automation_runs_firing ON automation_runs (automation_id, trigger_key);
CREATE INDEX automation_runs_list ON automation_runs (team_id, automation_id, created);
CREATE INDEX automation_runs_call ON automation_runs (waiting_call_id);

-- Each step a run executes, recorded before it runs (input, attempt) and after (output or error,
-- timing). `seq` orders a run's steps; a step re-run after a crash is the same row, attempt + 1.
-- `state` is what a step must remember across restarts: the call it placed, when its delay ends.
CREATE TABLE automation_steps (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES automation_runs(id),
    seq BIGINT NOT NULL,
    slug TEXT NOT NULL,
    step_type TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    error TEXT,
    state TEXT,
    due_at BIGINT,
    started BIGINT NOT NULL,
    finished BIGINT,
    UNIQUE (run_id, seq)
);
