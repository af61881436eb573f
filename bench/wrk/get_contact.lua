-- wrk script: GET /contact/{id} of one existing contact, over and over.
--
-- From the environment (set by bench/api.sh):
--   PARLEY_BENCH_TOKEN    the API token    (x-api-token header)
--   PARLEY_BENCH_TEAM     the team id      (team_id header)
--   PARLEY_BENCH_CONTACT  the contact's id

local token, team, contact =
  os.getenv("PARLEY_BENCH_TOKEN"), os.getenv("PARLEY_BENCH_TEAM"), os.getenv("PARLEY_BENCH_CONTACT")
if not token or not team or not contact then
  error("get_contact.lua: set PARLEY_BENCH_TOKEN, PARLEY_BENCH_TEAM and PARLEY_BENCH_CONTACT")
end

wrk.method = "GET"
wrk.path = "/contact/" .. contact
wrk.headers["x-api-token"] = token
wrk.headers["team_id"] = team
