-- wrk script: POST /contact/create, a new phone number on every request.
--
-- Credentials come from the environment (set by bench/api.sh):
--   PARLEY_BENCH_TOKEN  the API token    (x-api-token header)
--   PARLEY_BENCH_TEAM   the team id      (team_id header)
--
-- Numbers are valid US numbers, unique across the whole run: each wrk thread has an area code of
-- its own, and walks its exchanges (NXX 200-999, skipping N11 service codes and 555) and line
-- numbers in order, which gives every thread about 7.8 million numbers.

local area_codes = { "212", "415", "646", "312", "617", "303", "206", "404",
                     "213", "305", "503", "512", "602", "702", "713", "718" }

local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
  if threads > #area_codes then
    error("create_contact.lua: at most " .. #area_codes .. " wrk threads (one area code each)")
  end
end

local area
local exchanges = {}
local counter = 0

function init(args)
  area = area_codes[thread_index + 1]
  for e = 200, 999 do
    if e % 100 ~= 11 and e ~= 555 then
      exchanges[#exchanges + 1] = e
    end
  end
  local token, team = os.getenv("PARLEY_BENCH_TOKEN"), os.getenv("PARLEY_BENCH_TEAM")
  if not token or not team then
    error("create_contact.lua: set PARLEY_BENCH_TOKEN and PARLEY_BENCH_TEAM")
  end
  wrk.method = "POST"
  wrk.path = "/contact/create"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["x-api-token"] = token
  wrk.headers["team_id"] = team
end

function request()
  local exchange = exchanges[math.floor(counter / 10000) % #exchanges + 1]
  local line = counter % 10000
  counter = counter + 1
  local body = string.format('{"phone_number":"+1 %s %03d %04d"}', area, exchange, line)
  return wrk.format(nil, nil, nil, body)
end
