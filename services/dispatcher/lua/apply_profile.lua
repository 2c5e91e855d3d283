-- Materialise one volunteer profile from the `volunteers` topic into the roster (atomically).
-- KEYS[1] vol:{id} hash   KEYS[2] volunteers set   KEYS[3] resting zset
--      KEYS[4 .. 3+g] the geo keys to be in while available, then the kelurahan index keys
--      (the indexes of the profile before, listed in the hash, are left undeclared: same hash tag)
-- ARGV: 1 volunteer id, 2 profile JSON, 3 on duty ('1' on duty and active, else '0'), 4 lat, 5 lon,
--       6 unit, 7 how many geo keys (g), 8 unused,
--       9 event time (unix s), 10 now (unix s), 11 changes channel, 12 change notice
-- Returns -1 when the event is older than the profile already applied, 1 when the volunteer became
-- available by it, 0 otherwise. A volunteer holding an offer or assignment keeps it.
local vol, vid = KEYS[1], ARGV[1]
local ngeo = tonumber(ARGV[7])
local geo_keys, kel_keys = {}, {}
for i = 4, 3 + ngeo do table.insert(geo_keys, KEYS[i]) end
for i = 4 + ngeo, #KEYS do table.insert(kel_keys, KEYS[i]) end
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
  'unit', ARGV[6], 'geo', table.concat(geo_keys, ','), 'kel', table.concat(kel_keys, ','),
  'profile_at', ARGV[9])
redis.call('SADD', KEYS[2], vid)
for _, kel_key in ipairs(kel_keys) do redis.call('SADD', kel_key, vid) end

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
  for _, geo_key in ipairs(geo_keys) do redis.call('GEOADD', geo_key, ARGV[5], ARGV[4], vid) end
end
redis.call('PUBLISH', ARGV[11], ARGV[12])
if status == 'available' and was ~= 'available' then
  return 1
end
return 0
