-- The ops room recorded a yes after the offer had ended: assign the volunteer to it again if they are
-- free (available or off duty, holding nothing, not resting). Idempotent for the same offer.
-- KEYS[1] vol:{id}   KEYS[2] offer:{offer_id}
-- ARGV: 1 volunteer id, 2 offer id, 3 incident id, 4 now (ISO, fixed width), 5 fairness cut-off (ISO),
--       6 now (unix s), 7 changes channel, 8 change notice
local vol, vid, offer_id = KEYS[1], ARGV[1], ARGV[2]
local held = redis.call('HGET', vol, 'offer_id')
if held == offer_id then
  return 1
end
local status = redis.call('HGET', vol, 'status')
if (held and held ~= '') or (status ~= 'available' and status ~= 'off_duty') then
  return 0
end
if tonumber(redis.call('HGET', vol, 'rest_ts') or '0') > tonumber(ARGV[6]) then
  return 0
end
local geo = redis.call('HGET', vol, 'geo')
if geo then
  for key in string.gmatch(geo, '[^,]+') do redis.call('ZREM', key, vid) end
end
local kept = {}
local raw = redis.call('HGET', vol, 'deployments')
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
