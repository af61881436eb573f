-- A team's keys for cloud speech providers (Deepgram, OpenAI, ElevenLabs, Cartesia), one per
-- provider, write-only through the API. `id` is "<team id>:<provider>": the row id a sealed key
-- is bound to (crates/store/src/secrets.rs), so a key copied into another row does not open.
-- `hint` is the key's last four characters, what the API shows instead of the key.
CREATE TABLE team_speech_keys (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams(id),
    provider TEXT NOT NULL,
    api_key TEXT NOT NULL,
    hint TEXT NOT NULL,
    base_url TEXT NOT NULL DEFAULT '',
    updated BIGINT NOT NULL,
    UNIQUE (team_id, provider)
);
