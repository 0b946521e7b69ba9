-- wrk script of the benchmark harness: builds the requests of one scenario for one target style
-- and prints a machine-readable summary line ("BENCHJSON {...}") when wrk finishes.
--
-- Run by perf/run.sh and perf/soak.sh; by hand:
--   wrk -t2 -c16 -d5s -s perf/wrk.lua http://127.0.0.1:PORT -- scenario=get style=scim \
--       token=... id=123
--
-- Arguments (key=value after "--"):
--   scenario  get | filter | post | patch | member | mix
--   style     platform  the demo platform's REST API (/api/v1/...), X-Api-Key   (direct and nginx)
--             scim      scim-sidecar (/scim/v2/...), Authorization: Bearer
--             scim2     scim2-server (/v2/...), Authorization: Bearer
--   token     bearer token (scim, scim2)          apikey   platform API key (platform)
--   threads   wrk -t value (each thread takes its own share of ids)
--   id        the resource id for get             username the userName for filter
--   prefix    unique prefix of userNames created by post (one per run)
--   ids       file with one user id per line: users that patch flips, users that member adds
--   groups    file with one group id per line: groups that member adds to
--
-- Every request is meant to succeed with a 2xx: post creates a new user each time, patch flips
-- `active` (each visit to a user changes it: False, True, False, ...), member adds a (group,
-- user) pair not added before. run.sh fails a cell that has any status >= 400 or socket errors.

local args = {}
local tid = 0
local counter = 0
local ids = {}
local groups = {}
local my_ids = {}
local my_groups = {}

local function read_lines(path)
  local t = {}
  if path == nil or path == "" then return t end
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if line ~= "" then t[#t + 1] = line end
  end
  f:close()
  return t
end

-- Runs in the main Lua state once per thread, before init: hands each thread its index.
local next_tid = 0
local all_threads = {}
function setup(thread)
  thread:set("bench_tid", next_tid)
  next_tid = next_tid + 1
  all_threads[#all_threads + 1] = thread
end

function init(argv)
  for _, a in ipairs(argv) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k then args[k] = v end
  end
  tid = bench_tid or 0
  local nthreads = tonumber(args.threads or "1")
  ids = read_lines(args.ids)
  groups = read_lines(args.groups)
  -- This thread's share: every nthreads-th entry, so threads never touch the same user or group.
  for i = 1, #ids do
    if (i - 1) % nthreads == tid then my_ids[#my_ids + 1] = ids[i] end
  end
  for i = 1, #groups do
    if (i - 1) % nthreads == tid then my_groups[#my_groups + 1] = groups[i] end
  end
end

local function headers()
  if args.style == "platform" then
    return { ["X-Api-Key"] = args.apikey, ["Content-Type"] = "application/json" }
  end
  return {
    ["Authorization"] = "Bearer " .. args.token,
    ["Content-Type"] = "application/scim+json",
  }
end

local function base()
  if args.style == "platform" then return "/api/v1" end
  if args.style == "scim2" then return "/v2" end
  return "/scim/v2"
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~@]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local builders = {}

builders.get = function()
  local path = (args.style == "platform" and "/users/" or "/Users/") .. args.id
  return wrk.format("GET", base() .. path, headers())
end

builders.filter = function()
  if args.style == "platform" then
    return wrk.format("GET", base() .. "/users?username=" .. urlencode(args.username), headers())
  end
  local f = 'userName eq "' .. args.username .. '"'
  return wrk.format("GET", base() .. "/Users?filter=" .. urlencode(f), headers())
end

local post_seq = 0
builders.post = function()
  post_seq = post_seq + 1
  local u = string.format("%s-t%d-%d@example.com", args.prefix, tid, post_seq)
  local body
  if args.style == "platform" then
    body = string.format(
      '{"username":"%s","email":"%s","first_name":"Bench","last_name":"User",'
        .. '"display_name":"Bench User","status":"active","external_ref":"%s"}', u, u, u)
  else
    -- The shape Entra ID sends on create.
    body = string.format(
      '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"%s",'
        .. '"userName":"%s","active":true,"displayName":"Bench User",'
        .. '"emails":[{"primary":true,"type":"work","value":"%s"}],'
        .. '"name":{"givenName":"Bench","familyName":"User"}}', u, u, u)
  end
  return wrk.format("POST", base() .. (args.style == "platform" and "/users" or "/Users"), headers(), body)
end

local patch_visits = 0
builders.patch = function()
  local n = #my_ids
  local k = patch_visits
  patch_visits = patch_visits + 1
  local id = my_ids[(k % n) + 1]
  -- Visit v (0-based) of a user sets active = (v odd): False, True, False, ... A seeded user
  -- starts active, so every visit is a real change.
  local active = (math.floor(k / n) % 2) == 1
  local body
  if args.style == "platform" then
    body = active and '{"status":"active"}' or '{"status":"disabled"}'
    return wrk.format("PATCH", base() .. "/users/" .. id, headers(), body)
  end
  -- Entra ID's shape: capitalised op, boolean as a string.
  body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":'
    .. '[{"op":"Replace","path":"active","value":"' .. (active and "True" or "False") .. '"}]}'
  return wrk.format("PATCH", base() .. "/Users/" .. id, headers(), body)
end

builders.member = function()
  local nu = #ids
  local k = counter
  counter = counter + 1
  -- Pairs (group, user) in order: all users into this thread's first group, then the next ...
  local g = my_groups[(math.floor(k / nu) % #my_groups) + 1]
  local u = ids[(k % nu) + 1]
  if args.style == "platform" then
    return wrk.format("POST", base() .. "/groups/" .. g .. "/members", headers(),
      '{"user_id":' .. u .. '}')
  end
  local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":'
    .. '[{"op":"Add","path":"members","value":[{"value":"' .. u .. '"}]}]}'
  return wrk.format("PATCH", base() .. "/Groups/" .. g, headers(), body)
end

-- The soak mix (perf/soak.sh, style scim only): a fixed cycle of the requests Entra ID makes.
-- Users the cycle creates it deletes again (the id comes from the 201's Location header), and
-- member changes alternate add/remove of the same pair, so the platform does not grow.
local mix_cycle = { "get", "filter", "patch", "get", "member", "post", "filter", "delete" }
local created = {}
local member_visits = 0
builders.mix = function()
  local step = mix_cycle[(counter % #mix_cycle) + 1]
  counter = counter + 1
  if step == "delete" then
    local loc = table.remove(created, 1)
    if loc == nil then return builders.get() end
    return wrk.format("DELETE", loc, headers())
  end
  if step == "member" then
    local n = #my_ids
    local v = member_visits
    member_visits = member_visits + 1
    local u = my_ids[(math.floor(v / 2) % n) + 1]
    local g = my_groups[1]
    local op
    if v % 2 == 0 then
      op = '{"op":"Add","path":"members","value":[{"value":"' .. u .. '"}]}'
    else
      op = '{"op":"Remove","path":"members[value eq \\"' .. u .. '\\"]"}'
    end
    return wrk.format("PATCH", base() .. "/Groups/" .. g, headers(),
      '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' .. op .. ']}')
  end
  return builders[step]()
end

-- Pacing for the soak: each connection waits this long before its next request.
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if delay_ms > 0 then
  function delay() return delay_ms end
end

-- Only defined for the soak (wrk parses every response when a script has response()).
if os.getenv("BENCH_TRACK_RESPONSES") == "1" then
  non2xx = 0
  function response(status, hdrs, body)
    if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if non2xx <= 5 then
        io.stderr:write("non-2xx " .. status .. ": " .. string.sub(body or "", 1, 300) .. "\n")
      end
    end
    if status == 201 then
      local loc = hdrs["Location"] or hdrs["location"]
      if loc then
        local path = loc:match("^https?://[^/]+(/.*)$") or loc
        created[#created + 1] = path
      end
    end
  end
end

function request()
  return builders[args.scenario]()
end

-- Runs in the main state after the run: one JSON line the harness parses.
function done(summary, latency, requests)
  local e = summary.errors
  local function p(q) return latency:percentile(q) end
  -- Responses outside 2xx seen by response() (soak only; -1 when not tracked).
  local tracked = -1
  if os.getenv("BENCH_TRACK_RESPONSES") == "1" then
    tracked = 0
    for _, t in ipairs(all_threads) do tracked = tracked + (t:get("non2xx") or 0) end
  end
  io.write(string.format(
    'BENCHJSON {"non2xx":%d,"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    tracked, summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    p(50), p(90), p(99), p(99.9)))
end
