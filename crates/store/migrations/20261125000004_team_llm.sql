-- A team's own OpenAI-compatible LLM endpoint (empty = the server's PARLEY_LLM_* default).
ALTER TABLE teams ADD COLUMN llm_base_url TEXT NOT NULL DEFAULT '';
ALTER TABLE teams ADD COLUMN llm_api_key TEXT NOT NULL DEFAULT '';
ALTER TABLE teams ADD COLUMN llm_model TEXT NOT NULL DEFAULT '';
