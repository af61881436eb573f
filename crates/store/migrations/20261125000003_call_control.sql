-- A hang-up asked through the API for a call in progress: the process running the call sees it
-- at its next heartbeat and ends the call with its transcript and recording.
ALTER TABLE calls ADD COLUMN hangup_requested BIGINT NOT NULL DEFAULT 0;
