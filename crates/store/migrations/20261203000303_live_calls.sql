-- The dashboard's live view reads a team's calls changed since a cursor (updated, id).
CREATE INDEX calls_team_updated ON calls (team_id, updated, id);
