-- Volunteers whose rest is over become available again (or off duty if they went off duty).
-- KEYS[1] resting zset
-- ARGV: 1 now (unix s), 2 at most this many, 3 vol key prefix, 4 changes channel
-- Returns the ids of the volunteers now available.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local woken = {}
for _, vid in ipairs(due) do
  redis.call('ZREM', KEYS[1], vid)
  local vol = ARGV[3] .. vid
  if redis.call('HGET', vol, 'status') == 'resting' then
    if redis.call('HGET', vol, 'on_duty') == '1' then
      redis.call('HSET', vol, 'status', 'available')
      local lat, lon = redis.call('HGET', vol, 'lat'), redis.call('HGET', vol, 'lon')
      local geo = redis.call('HGET', vol, 'geo')
      if geo and lat and lon then
        for key in string.gmatch(geo, '[^,]+') do redis.call('GEOADD', key, lon, lat, vid) end
      end
      table.insert(woken, vid)
    else
      redis.call('HSET', vol, 'status', 'off_duty')
    end
    redis.call('PUBLISH', ARGV[4], '{"kind":"volunteer","id":"' .. vid .. '"}')
  end
end
return woken
