-- One ring of the candidate search (rule 3): the nearest available volunteers of a unit (and skill)
-- within a radius, with the roster fields ranking and eligibility need — and, when asked, the
-- reservation of the best of them for the open offers (rules 2–4), all in one round trip.
--
-- GEOSEARCH costs time in proportion to the points inside its search area, whatever COUNT says. So
-- the ring is searched from a small disc outwards, doubling the radius, and stops at the first disc
-- that holds COUNT volunteers: those are exactly the COUNT nearest of the whole ring. A dense roster is
-- answered from a disc of a few hundred metres, a sparse one costs a few searches of empty discs.
--
-- Reserving (ARGV[8] > 0): the rows read are filtered and ordered exactly as
-- `services/dispatcher/ranking.py` does (`ineligibility`, `rank_key`), and the first ones are reserved
-- for the offers, in order, as `reserve.lua` does. Being one script, nothing can take them in between.
-- The caller ranks the same rows in Python and checks it got the same volunteers (ranking.py decides;
-- this is its fast path).
--
-- KEYS[1] geo key (available volunteers of the unit, or of the unit and skill)
-- KEYS[2…] offer keys that, when any exists, mean a redelivered event already reserved under them:
--          then nothing is searched and the reply is just '!' (the caller takes up those offers first)
--          — and, when ARGV[7] is '1', the last of them is instead the incident's state hash: the
--          caller searched without loading the state (a report it had not seen); if the state
--          exists, nothing is searched and the reply is just '?' (the caller loads it and starts over)
--          — and, when ARGV[7] ends in 'g', the very last key is the generation marker: without it
--          (Redis lost, a rebuild under way) nothing is searched and the reply is just '~'
-- ARGV: 1 longitude, 2 latitude, 3 radius (km), 4 at most this many, 5 vol key prefix,
--       6 first radius to try (km; the ring's radius to search it at once),
--       7 '1' when the last key (before the marker) is the state hash, else '0'; then 'g' when the
--         last key is the generation marker,
--       8 how many offers to reserve for (n; 0: search only), and when n > 0:
--         9 incident id, 10 offers expire (unix s), 11 offers expire (ISO), 12 now (unix s),
--         13 fairness cut-off (ISO, fixed width: now - 30 days), 14 today in Kediri (YYYY-MM-DD),
--         15 need unit, 16 need skill ('' for any), 17 '1' when that skill needs a valid certification,
--         18 distance resolution (km), 19 offer key prefix, 20 deadlines zset, 21 changes channel,
--         22 and 23 the change notice before and after the volunteer id,
--         24 … 23+n the offer ids, in order;
--       then the volunteer ids to leave out (already offered this incident).
-- Returns a flat list: '#' .. how many the last geo search found (left-out ones included), how many
-- were reserved (r), the r volunteer ids reserved (for the first r offer ids, in order), then rows of
-- id, profile, status, offer_id, on_duty, lat, lon, rest_ts, deployments, last_deployed_at — as read
-- before anyone was reserved.
local last = #KEYS
if string.sub(ARGV[7], 2, 2) == 'g' then
  if redis.call('EXISTS', KEYS[last]) == 0 then
    return {'~'}
  end
  last = last - 1
end
local offers_to = last
if string.sub(ARGV[7], 1, 1) == '1' then
  if redis.call('EXISTS', KEYS[last]) == 1 then
    return {'?'}
  end
  offers_to = last - 1
end
for i = 2, offers_to do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return {'!'}
  end
end
local radius, count = tonumber(ARGV[3]), tonumber(ARGV[4])
local r = math.min(tonumber(ARGV[6]), radius)
if not (r > 0) then r = radius end
local found
while true do
  found = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', r, 'km',
    'ASC', 'COUNT', count)
  if #found >= count or r >= radius then
    break
  end
  r = math.min(r * 2, radius)
end
local n = tonumber(ARGV[8])
local skip_from = 9
if n > 0 then skip_from = 24 + n end
local skip = {}
for i = skip_from, #ARGV do skip[ARGV[i]] = true end
local rows, ids = {}, {}
for _, vid in ipairs(found) do
  if not skip[vid] then
    local f = redis.call('HMGET', ARGV[5] .. vid, 'profile', 'status', 'offer_id', 'on_duty', 'lat', 'lon',
      'rest_ts', 'deployments', 'last_deployed_at')
    table.insert(ids, vid)
    rows[vid] = f
  end
end

-- byte order, as Python compares strings (Lua's own `<` on strings follows the server's locale)
local function before(a, b)
  for i = 1, math.min(#a, #b) do
    local ca, cb = string.byte(a, i), string.byte(b, i)
    if ca ~= cb then return ca < cb end
  end
  return #a < #b
end

local reserved = {}
if n > 0 then
  local now, cutoff, today = tonumber(ARGV[12]), ARGV[13], ARGV[14]
  local unit, skill, certify, resolution = ARGV[15], ARGV[16], ARGV[17] == '1', tonumber(ARGV[18])
  local lat1, lon1 = math.rad(tonumber(ARGV[2])), tonumber(ARGV[1])
  -- ranking.py's rank_key of a volunteer whose roster fields allow an offer, or nil (busy, resting,
  -- off duty, or a row ranking cannot read). The profile is not read here: see `fits`.
  local function key_of(vid, f)
    local raw, status, offer_id, on_duty, lat, lon, rest_ts, deployments, last =
      f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]
    if not raw or raw == '' or not lat or not lon then return nil end
    if on_duty ~= '1' then return nil end
    if rest_ts and rest_ts ~= '' and tonumber(rest_ts) > now then return nil end
    if status ~= 'available' or (offer_id and offer_id ~= '') then return nil end
    local p2 = math.rad(tonumber(lat))
    local dp, dl = p2 - lat1, math.rad(tonumber(lon) - lon1)
    local a = math.sin(dp / 2) ^ 2 + math.cos(lat1) * math.cos(p2) * math.sin(dl / 2) ^ 2
    local distance = 2 * 6371.0088 * math.asin(math.min(1.0, math.sqrt(a)))
    if resolution > 0 then distance = math.floor(distance / resolution) end
    local recent = 0
    if deployments and deployments ~= '' then
      local okd, list = pcall(cjson.decode, deployments)
      if not okd or type(list) ~= 'table' then return nil end
      for _, at in ipairs(list) do
        if type(at) == 'string' and not before(at, cutoff) then recent = recent + 1 end
      end
    end
    return {distance, recent, last or '', vid}
  end
  -- the rest of ranking.py's ineligibility, from the profile: read only for the volunteers walked in
  -- rank order until the offers are filled (filtering, then ordering, picks the same as ordering, then
  -- filtering), so a search decodes one or two profiles, not COUNT
  local function fits(f)
    local ok, p = pcall(cjson.decode, f[1])
    if not ok or type(p) ~= 'table' then return false end
    if p.active == false or p.active == cjson.null then return false end
    -- a member of several units (`units`, issue 19) fits a need of any of them; `unit` alone is the
    -- older one-unit profile
    local in_unit = p.unit == unit
    if not in_unit and type(p.units) == 'table' then
      for _, u in ipairs(p.units) do
        if u == unit then in_unit = true end
      end
    end
    if not in_unit then return false end
    if skill == '' then return true end
    if type(p.skills) ~= 'table' then return false end
    local has = false
    for _, s in ipairs(p.skills) do
      if s == skill then has = true end
    end
    if not has then return false end
    if not certify then return true end
    if type(p.certifications) ~= 'table' then return false end
    for _, c in ipairs(p.certifications) do
      if type(c) == 'table' and c.skill == skill and type(c.expires_on) == 'string'
        and not before(c.expires_on, today) then
        return true
      end
    end
    return false
  end
  local ranked = {}
  for _, vid in ipairs(ids) do
    local k = key_of(vid, rows[vid])
    if k then table.insert(ranked, k) end
  end
  table.sort(ranked, function(x, y)
    if x[1] ~= y[1] then return x[1] < y[1] end
    if x[2] ~= y[2] then return x[2] < y[2] end
    if x[3] ~= y[3] then return before(x[3], y[3]) end
    return before(x[4], y[4])
  end)
  local picks = {}
  for _, k in ipairs(ranked) do
    if #picks >= n then break end
    if fits(rows[k[4]]) then table.insert(picks, k) end
  end
  ranked = picks
  for i = 1, math.min(n, #ranked) do
    local vid, offer_id = ranked[i][4], ARGV[23 + i]
    local vol, offer = ARGV[5] .. vid, ARGV[19] .. offer_id
    redis.call('HSET', vol, 'status', 'offered', 'incident_id', ARGV[9], 'offer_id', offer_id)
    local geo = redis.call('HGET', vol, 'geo')
    if geo then
      for key in string.gmatch(geo, '[^,]+') do redis.call('ZREM', key, vid) end
    end
    redis.call('DEL', offer)
    redis.call('HSET', offer, 'incident_id', ARGV[9], 'volunteer_id', vid, 'status', 'offered',
      'expires_at', ARGV[11])
    redis.call('ZADD', ARGV[20], ARGV[10], offer_id)
    redis.call('PUBLISH', ARGV[21], ARGV[22] .. vid .. ARGV[23])
    table.insert(reserved, vid)
  end
end

local out = {'#' .. #found, #reserved}
for _, vid in ipairs(reserved) do table.insert(out, vid) end
for _, vid in ipairs(ids) do
  table.insert(out, vid)
  local f = rows[vid]
  for j = 1, 9 do table.insert(out, f[j] or '') end
end
return out
