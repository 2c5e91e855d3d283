-- One ring of the candidate search (rule 3): the nearest available volunteers of a unit (and skill)
-- within a radius, with the roster fields ranking and eligibility need — one round trip per ring.
--
-- GEOSEARCH costs time in proportion to the points inside its search area, whatever COUNT says. So
-- the ring is searched from a small disc outwards, doubling the radius, and stops at the first disc
-- that holds COUNT volunteers: those are exactly the COUNT nearest of the whole ring. A dense roster is
-- answered from a disc of a few hundred metres, a sparse one costs a few searches of empty discs.
--
-- KEYS[1] geo key (available volunteers of the unit, or of the unit and skill)
-- KEYS[2…] offer keys that, when any exists, mean a redelivered event already reserved under them:
--          then nothing is searched and the reply is just '!' (the caller takes up those offers first)
--          — and, when ARGV[7] is '1', the last of them is instead the incident's state hash: the
--          caller searched without loading the state (a report it had not seen); if the state
--          exists, nothing is searched and the reply is just '?' (the caller loads it and starts over)
-- ARGV: 1 longitude, 2 latitude, 3 radius (km), 4 at most this many, 5 vol key prefix,
--       6 first radius to try (km; the ring's radius to search it at once),
--       7 '1' when the last key is the state hash, else '0',
--       8… volunteer ids to leave out (already offered this incident)
-- Returns a flat list: id, profile, status, offer_id, on_duty, lat, lon, rest_ts, deployments,
-- last_deployed_at, id, …, then '#' .. how many the last geo search found (left-out ones included).
local offers_to = #KEYS
if ARGV[7] == '1' then
  if redis.call('EXISTS', KEYS[#KEYS]) == 1 then
    return {'?'}
  end
  offers_to = #KEYS - 1
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
local skip = {}
for i = 8, #ARGV do skip[ARGV[i]] = true end
local out = {}
for _, vid in ipairs(found) do
  if not skip[vid] then
    local f = redis.call('HMGET', ARGV[5] .. vid, 'profile', 'status', 'offer_id', 'on_duty', 'lat', 'lon',
      'rest_ts', 'deployments', 'last_deployed_at')
    table.insert(out, vid)
    for j = 1, 9 do table.insert(out, f[j] or '') end
  end
end
table.insert(out, '#' .. #found)
return out
