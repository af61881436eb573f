-- Secrets at rest (crates/store/src/keyring.rs): the key the database's secret columns are
-- sealed with, by id, and a check value sealed with it, so a start with a missing or different
-- key is refused before any secret is read. `is_current` is 1 for the key that seals new values
-- (unique: two processes starting at once cannot both record theirs); keys kept only to open
-- older values after a rotation will have NULL.
CREATE TABLE secret_keys (
    key_id TEXT PRIMARY KEY,
    is_current BIGINT UNIQUE,
    check_value TEXT NOT NULL,
    created BIGINT NOT NULL
);
