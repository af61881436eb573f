-- The sandbox network's team-defined side: personas (scripted virtual people) and the team's own
-- sandbox numbers. Portable SQL, as in the first migration: TEXT and BIGINT only.

-- A team's persona; `body` is its PersonaScript JSON. The built-in personas (00-09) are code,
-- not rows.
CREATE TABLE personas (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX personas_team ON personas (team_id, created);

-- A number on a team's sandbox list rings the sandbox network, never a carrier. It is bound to
-- exactly one of: a persona (outbound calls to it ring that persona; `persona_id` is a row of
-- `personas` or a built-in id `builtin-NN`), or a voice agent (a persona calling it in reaches
-- that agent). The unused one is '' (not NULL), as `webhooks.interview_id` does.
CREATE TABLE sandbox_numbers (
    team_id TEXT NOT NULL REFERENCES teams(id),
    phone_number TEXT NOT NULL,
    persona_id TEXT NOT NULL DEFAULT '',
    interview_id TEXT NOT NULL DEFAULT '',
    created BIGINT NOT NULL,
    PRIMARY KEY (team_id, phone_number)
);
CREATE INDEX sandbox_numbers_persona ON sandbox_numbers (team_id, persona_id);
