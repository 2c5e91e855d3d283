-- Materialise one volunteer profile from the `volunteers` topic into the roster (atomically).
-- KEYS[1] vol:{id} hash   KEYS[2] volunteers set   KEYS[3] resting zset
-- ARGV: 1 volunteer id, 2 profile JSON, 3 on duty ('1' on duty and active, else '0'), 4 lat, 5 lon,
--       6 unit, 7 geo keys (comma-separated) to be in while available, 8 kelurahan index keys,
--       9 event time (unix s), 10 now (unix s), 11 changes channel, 12 change notice
-- Returns -1 when the event is older than the profile already applied, 1 when the volunteer became
-- available by it, 0 otherwise. A volunteer holding an offer or assignment keeps it.
local vol, vid = KEYS[1], ARGV[1]
local applied = tonumber(redis.call('HGET', vol, 'profile_at') or '-1')
if tonumber(ARGV[9]) < applied then
  return -1
end
local old_geo = redis.call('HGET', vol, 'geo')
if old_geo then
  for key in string.gmatch(old_geo, '[^,]+') do redis.call('ZREM', key, vid) end
end
local old_kel = redis.call('HGET', vol, 'kel')
if old_kel then
  for key in string.gmatch(old_kel, '[^,]+') do redis.call('SREM', key, vid) end
end
redis.call('HSET', vol, 'profile', ARGV[2], 'on_duty', ARGV[3], 'lat', ARGV[4], 'lon', ARGV[5],
  'unit', ARGV[6], 'geo', ARGV[7], 'kel', ARGV[8], 'profile_at', ARGV[9])
redis.call('SADD', KEYS[2], vid)
for key in string.gmatch(ARGV[8], '[^,]+') do redis.call('SADD', key, vid) end

local was = redis.call('HGET', vol, 'status')
local status = was
if was ~= 'offered' and was ~= 'assigned' then
  local rest = tonumber(redis.call('HGET', vol, 'rest_ts') or '0')
  if ARGV[3] ~= '1' then
    status = 'off_duty'
  elseif rest > tonumber(ARGV[10]) then
    status = 'resting'
    redis.call('ZADD', KEYS[3], rest, vid)
  else
    status = 'available'
  end
  redis.call('HSET', vol, 'status', status)
end
if status == 'available' then
  for key in string.gmatch(ARGV[7], '[^,]+') do redis.call('GEOADD', key, ARGV[5], ARGV[4], vid) end
end
redis.call('PUBLISH', ARGV[11], ARGV[12])
if status == 'available' and was ~= 'available' then
  return 1
end
return 0
