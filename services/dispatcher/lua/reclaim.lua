-- The ops room recorded a yes after the offer had ended: assign the volunteer to it again if they are
-- free (available or off duty, holding nothing, not resting). Idempotent for the same offer.
-- KEYS[1] vol:{id}   KEYS[2] offer:{offer_id}, KEYS[3 …] the geo keys the volunteer's hash listed
--      (`geo`) when the caller read it
-- ARGV: 1 volunteer id, 2 offer id, 3 incident id, 4 now (ISO, fixed width), 5 fairness cut-off (ISO),
--       6 now (unix s), 7 changes channel, 8 change notice
-- Returns 1 when assigned (now or before), 0 when not free, {'stale', geo, kel} when it would assign
-- but the hash lists other geo keys than declared (nothing changed: the caller tries again with these).
local vol, vid, offer_id = KEYS[1], ARGV[1], ARGV[2]
local geo = {}
for i = 3, #KEYS do table.insert(geo, KEYS[i]) end
local f = redis.call('HMGET', vol, 'offer_id', 'status', 'rest_ts', 'geo', 'kel', 'deployments')
local held = f[1]
if held == offer_id then
  return 1
end
if (held and held ~= '') or (f[2] ~= 'available' and f[2] ~= 'off_duty') then
  return 0
end
if (tonumber(f[3] or '') or 0) > tonumber(ARGV[6]) then
  return 0
end
if (f[4] or '') ~= table.concat(geo, ',') then
  return {'stale', f[4] or '', f[5] or ''}
end
for _, geo_key in ipairs(geo) do redis.call('ZREM', geo_key, vid) end
local kept = {}
local raw = f[6]
if raw and raw ~= '' then
  for _, at in ipairs(cjson.decode(raw)) do
    if at >= ARGV[5] then table.insert(kept, at) end
  end
end
table.insert(kept, ARGV[4])
redis.call('HSET', vol, 'status', 'assigned', 'incident_id', ARGV[3], 'offer_id', offer_id,
  'deployments', cjson.encode(kept), 'last_deployed_at', ARGV[4])
redis.call('HSET', KEYS[2], 'incident_id', ARGV[3], 'volunteer_id', vid, 'status', 'accepted')
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1
