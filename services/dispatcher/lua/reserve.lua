-- Rule 4: reserve a volunteer for one offer, atomically. Succeeds only when the volunteer is
-- available, on duty, not resting and holds no offer or assignment — or already holds this very
-- offer (a redelivered event), which makes it idempotent.
-- KEYS[1] vol:{id}   KEYS[2] offer:{offer_id}   KEYS[3] deadlines zset
-- ARGV: 1 volunteer id, 2 offer id, 3 incident id, 4 expires (unix s), 5 expires (ISO), 6 now (unix s),
--       7 changes channel, 8 change notice
local vol, vid, offer_id = KEYS[1], ARGV[1], ARGV[2]
local held = redis.call('HGET', vol, 'offer_id')
if held == offer_id then
  return 1
end
if held and held ~= '' then
  return 0
end
if redis.call('HGET', vol, 'status') ~= 'available' or redis.call('HGET', vol, 'on_duty') ~= '1' then
  return 0
end
if tonumber(redis.call('HGET', vol, 'rest_ts') or '0') > tonumber(ARGV[6]) then
  return 0
end
redis.call('HSET', vol, 'status', 'offered', 'incident_id', ARGV[3], 'offer_id', offer_id)
local geo = redis.call('HGET', vol, 'geo')
if geo then
  for key in string.gmatch(geo, '[^,]+') do redis.call('ZREM', key, vid) end
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'incident_id', ARGV[3], 'volunteer_id', vid, 'status', 'offered',
  'expires_at', ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[4], offer_id)
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1
