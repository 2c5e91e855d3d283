-- End a volunteer's hold on one offer (declined, expired, withdrawn, released). Only that offer's
-- hold is ended, so a stale or repeated event can never free someone from a newer offer. The
-- volunteer becomes available (back in the geo index), resting, or off duty.
-- KEYS[1] vol:{id}   KEYS[2] offer:{offer_id}   KEYS[3] deadlines zset   KEYS[4] resting zset
-- ARGV: 1 volunteer id, 2 offer id, 3 the offer's new status, 4 rest until (unix s, or ''),
--       5 rest until (ISO, or ''), 6 now (unix s), 7 changes channel, 8 change notice
-- Returns {code, profile JSON or ''}: code 0 when the volunteer did not hold this offer, 1 when now
-- available, 2 otherwise; the profile saves the caller a round trip when it tells the volunteer.
local vol, vid, offer_id = KEYS[1], ARGV[1], ARGV[2]
redis.call('ZREM', KEYS[3], offer_id)
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'status', ARGV[3])
end
local profile = redis.call('HGET', vol, 'profile') or ''
if redis.call('HGET', vol, 'offer_id') ~= offer_id then
  return {0, profile}
end
redis.call('HDEL', vol, 'incident_id', 'offer_id')
if ARGV[4] ~= '' then
  redis.call('HSET', vol, 'rest_ts', ARGV[4], 'resting_until', ARGV[5])
end
local rest = tonumber(redis.call('HGET', vol, 'rest_ts') or '0')
local status
if redis.call('HGET', vol, 'on_duty') ~= '1' then
  status = 'off_duty'
elseif rest > tonumber(ARGV[6]) then
  status = 'resting'
  redis.call('ZADD', KEYS[4], rest, vid)
else
  status = 'available'
  local lat, lon = redis.call('HGET', vol, 'lat'), redis.call('HGET', vol, 'lon')
  local geo = redis.call('HGET', vol, 'geo')
  if geo and lat and lon then
    for key in string.gmatch(geo, '[^,]+') do redis.call('GEOADD', key, lon, lat, vid) end
  end
end
redis.call('HSET', vol, 'status', status)
redis.call('PUBLISH', ARGV[7], ARGV[8])
if status == 'available' then
  return {1, profile}
end
return {2, profile}
