-- Phone numbers and SIP trunks (API.md, "Phone numbers and SIP trunks"): how a team reaches real
-- phones. Portable SQL, as in the first migration: TEXT and BIGINT only; a partial unique index,
-- which SQLite and PostgreSQL both have.

-- A carrier trunk. `password` is sealed (crates/store/src/secrets.rs, purpose
-- `sip_trunks.password`); '' = none, as are `username` and `from_domain`. `inbound_addresses` is
-- a JSON array of canonical CIDRs ('[]' = only `host` may send INVITEs). `max_concurrent_calls`
-- NULL = no limit of the trunk's own.
CREATE TABLE sip_trunks (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    port BIGINT NOT NULL,
    transport TEXT NOT NULL,
    username TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL DEFAULT '',
    from_domain TEXT NOT NULL DEFAULT '',
    inbound_addresses TEXT NOT NULL DEFAULT '[]',
    max_concurrent_calls BIGINT,
    version BIGINT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX sip_trunks_team ON sip_trunks (team_id, created);

-- A number a team owns. `phone_number` (E.164) is unique across the server: an inbound call is
-- routed by it alone. `sip_trunk_id` is set for network 'sip' only; the Twilio columns for
-- 'twilio' only ('' otherwise; `twilio_auth_token` is sealed, purpose
-- `phone_numbers.twilio_auth_token`). `inbound_interview_id` '' = inbound calls refused.
-- `default_outbound` is 1 for at most one number of a team (the partial unique index).
CREATE TABLE phone_numbers (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    phone_number TEXT NOT NULL UNIQUE,
    network TEXT NOT NULL,
    sip_trunk_id TEXT REFERENCES sip_trunks(id),
    twilio_account_sid TEXT NOT NULL DEFAULT '',
    twilio_auth_token TEXT NOT NULL DEFAULT '',
    inbound_interview_id TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    default_outbound BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE INDEX phone_numbers_team ON phone_numbers (team_id, created);
CREATE INDEX phone_numbers_trunk ON phone_numbers (sip_trunk_id);
CREATE UNIQUE INDEX phone_numbers_default_outbound ON phone_numbers (team_id) WHERE default_outbound = 1;

-- The caller id and the network of each call (also in `body`; columns for the call runner and
-- for queries). Calls from before this migration were all on the sandbox network.
ALTER TABLE calls ADD COLUMN from_number TEXT;
ALTER TABLE calls ADD COLUMN network TEXT NOT NULL DEFAULT 'sandbox';
