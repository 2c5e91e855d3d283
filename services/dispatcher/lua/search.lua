-- One ring of the candidate search (rule 3): the nearest available volunteers of a unit (and skill)
-- within a radius, with the roster fields ranking and eligibility need — one round trip per ring.
-- KEYS[1] geo key (available volunteers of the unit, or of the unit and skill)
-- ARGV: 1 longitude, 2 latitude, 3 radius (km), 4 at most this many, 5 vol key prefix,
--       6… volunteer ids to leave out (already offered this incident)
-- Returns a flat list: id, profile, status, offer_id, on_duty, lat, lon, rest_ts, deployments,
-- last_deployed_at, id, …
local found = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', ARGV[3], 'km',
  'ASC', 'COUNT', tonumber(ARGV[4]))
local skip = {}
for i = 6, #ARGV do skip[ARGV[i]] = true end
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
