-- Rule 4: reserve a volunteer for one offer, atomically. Succeeds only when the volunteer is
-- available, on duty, not resting and holds no offer or assignment — or already holds this very
-- offer (a redelivered event), which makes it idempotent.
-- KEYS[1] vol:{id}   KEYS[2] offer:{offer_id}   KEYS[3] deadlines zset, KEYS[4 …] the geo keys the
--      volunteer's hash listed (`geo`) when the caller read it
-- ARGV: 1 volunteer id, 2 offer id, 3 incident id, 4 expires (unix s), 5 expires (ISO), 6 now (unix s),
--       7 changes channel, 8 change notice
-- Returns 1 when reserved (now or before), 0 when not free, {'stale', geo, kel} when it would reserve
-- but the hash lists other geo keys than declared (nothing changed: the caller tries again with these).
local vol, vid, offer_id = KEYS[1], ARGV[1], ARGV[2]
local geo = {}
for i = 4, #KEYS do table.insert(geo, KEYS[i]) end
local f = redis.call('HMGET', vol, 'offer_id', 'status', 'on_duty', 'rest_ts', 'geo', 'kel')
if f[1] == offer_id then
  return 1
end
if f[1] and f[1] ~= '' then
  return 0
end
if f[2] ~= 'available' or f[3] ~= '1' then
  return 0
end
if (tonumber(f[4] or '') or 0) > tonumber(ARGV[6]) then
  return 0
end
if (f[5] or '') ~= table.concat(geo, ',') then
  return {'stale', f[5] or '', f[6] or ''}
end
redis.call('HSET', vol, 'status', 'offered', 'incident_id', ARGV[3], 'offer_id', offer_id)
for _, geo_key in ipairs(geo) do redis.call('ZREM', geo_key, vid) end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'incident_id', ARGV[3], 'volunteer_id', vid, 'status', 'offered',
  'expires_at', ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[4], offer_id)
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1
