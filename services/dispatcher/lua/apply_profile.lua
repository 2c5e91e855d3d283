-- Materialise one volunteer profile from the `volunteers` topic into the roster (atomically).
-- KEYS[1] vol:{id} hash   KEYS[2] volunteers set   KEYS[3] resting zset, then the indexes: the g geo
--      keys to be in while available, the k kelurahan index keys, then the indexes of the profile
--      before as the caller read them from the hash (`geo`, `kel`): its og geo keys, then its
--      kelurahan index keys
-- ARGV: 1 volunteer id, 2 profile JSON, 3 on duty ('1' on duty and active, else '0'), 4 lat, 5 lon,
--       6 unit, 7 g, 8 k, 9 event time (unix s), 10 now (unix s), 11 changes channel,
--       12 change notice, 13 og
-- Returns -1 when the event is older than the profile already applied, 1 when the volunteer became
-- available by it, 0 otherwise; {'stale', geo, kel} when the hash lists other indexes than the caller
-- read (nothing changed: the caller tries again with these). A volunteer holding an offer or
-- assignment keeps it.
local vol, vid = KEYS[1], ARGV[1]
local g, k, og = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[13])
local geo_keys, kel_keys, old_geo, old_kel = {}, {}, {}, {}
for i = 4, 3 + g do table.insert(geo_keys, KEYS[i]) end
for i = 4 + g, 3 + g + k do table.insert(kel_keys, KEYS[i]) end
for i = 4 + g + k, 3 + g + k + og do table.insert(old_geo, KEYS[i]) end
for i = 4 + g + k + og, #KEYS do table.insert(old_kel, KEYS[i]) end
local f = redis.call('HMGET', vol, 'profile_at', 'geo', 'kel', 'status', 'rest_ts')
if tonumber(ARGV[9]) < (tonumber(f[1] or '') or -1) then
  return -1
end
if (f[2] or '') ~= table.concat(old_geo, ',') or (f[3] or '') ~= table.concat(old_kel, ',') then
  return {'stale', f[2] or '', f[3] or ''}
end
for _, old_geo_key in ipairs(old_geo) do redis.call('ZREM', old_geo_key, vid) end
for _, old_kel_key in ipairs(old_kel) do redis.call('SREM', old_kel_key, vid) end
redis.call('HSET', vol, 'profile', ARGV[2], 'on_duty', ARGV[3], 'lat', ARGV[4], 'lon', ARGV[5],
  'unit', ARGV[6], 'geo', table.concat(geo_keys, ','), 'kel', table.concat(kel_keys, ','),
  'profile_at', ARGV[9])
redis.call('SADD', KEYS[2], vid)
for _, kel_key in ipairs(kel_keys) do redis.call('SADD', kel_key, vid) end

local was = f[4]
local status = was
if was ~= 'offered' and was ~= 'assigned' then
  local rest = tonumber(f[5] or '') or 0
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
