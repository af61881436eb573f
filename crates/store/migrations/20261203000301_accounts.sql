-- Dashboard accounts: users, their memberships of teams, sessions, one-time links.
-- Secrets are stored hashed only: passwords as argon2 (computed by the API layer), session
-- cookies and link tokens as SHA-256 (random 256-bit values need no slow hash).

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    -- Empty until the user sets a password through a one-time link: no password signs in.
    password_hash TEXT NOT NULL DEFAULT '',
    created BIGINT NOT NULL
);

CREATE TABLE memberships (
    user_id TEXT NOT NULL REFERENCES users(id),
    team_id TEXT NOT NULL REFERENCES teams(id),
    role TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (user_id, team_id)
);
CREATE INDEX memberships_team ON memberships (team_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- A one-time link: the first owner's sign-in, an invite to a team, a password reset (no team).
CREATE TABLE account_links (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    team_id TEXT REFERENCES teams(id),
    role TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    used BIGINT
);

-- Tokens get a name in the dashboard ("CRM sync"); older tokens have none.
ALTER TABLE api_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
-- The team-wide calls list (the dashboard), newest first.
CREATE INDEX calls_team_created ON calls (team_id, created);
