-- End a volunteer's hold on one offer (declined, expired, withdrawn, released). Only that offer's
-- hold is ended, so a stale or repeated event can never free someone from a newer offer. The
-- volunteer becomes available (back in the geo index), resting, or off duty.
-- KEYS[1] vol:{id}   KEYS[2] offer:{offer_id}   KEYS[3] deadlines zset   KEYS[4] resting zset,
--      KEYS[5 …] the geo keys the volunteer's hash listed (`geo`) when the caller read it
-- ARGV: 1 volunteer id, 2 offer id, 3 the offer's new status, 4 rest until (unix s, or ''),
--       5 rest until (ISO, or ''), 6 now (unix s), 7 changes channel, 8 change notice
-- Returns {code, profile JSON or ''}: code 0 when the volunteer did not hold this offer, 1 when now
-- available, 2 otherwise; the profile saves the caller a round trip when it tells the volunteer.
-- {'stale', geo, kel} when the volunteer would become available but the hash lists other geo keys
-- than declared: nothing changed, the caller tries again with these.
local vol, vid, offer_id = KEYS[1], ARGV[1], ARGV[2]
local geo = {}
for i = 5, #KEYS do table.insert(geo, KEYS[i]) end
local f = redis.call('HMGET', vol, 'offer_id', 'on_duty', 'rest_ts', 'lat', 'lon', 'geo', 'kel', 'profile')
local holds, profile = f[1] == offer_id, f[8] or ''
local rest = tonumber(ARGV[4]) or tonumber(f[3] or '') or 0
local status = 'available'
if f[2] ~= '1' then
  status = 'off_duty'
elseif rest > tonumber(ARGV[6]) then
  status = 'resting'
end
if holds and status == 'available' and (f[6] or '') ~= table.concat(geo, ',') then
  return {'stale', f[6] or '', f[7] or ''}
end
redis.call('ZREM', KEYS[3], offer_id)
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'status', ARGV[3])
end
if not holds then
  return {0, profile}
end
redis.call('HDEL', vol, 'incident_id', 'offer_id')
if ARGV[4] ~= '' then
  redis.call('HSET', vol, 'rest_ts', ARGV[4], 'resting_until', ARGV[5])
end
if status == 'resting' then
  redis.call('ZADD', KEYS[4], rest, vid)
elseif status == 'available' and f[4] and f[5] then
  for _, geo_key in ipairs(geo) do redis.call('GEOADD', geo_key, f[5], f[4], vid) end
end
redis.call('HSET', vol, 'status', status)
redis.call('PUBLISH', ARGV[7], ARGV[8])
if status == 'available' then
  return {1, profile}
end
return {2, profile}
