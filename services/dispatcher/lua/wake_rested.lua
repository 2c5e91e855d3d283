-- Volunteers whose rest is over become available again (or off duty if they went off duty).
-- KEYS[1] resting zset, then for each volunteer the caller read as due: its vol:{id} hash, then the
--         g geo keys its hash listed (`geo`) when read
-- ARGV: 1 now (unix s), 2 changes channel, then for each volunteer: its id, g
-- A volunteer no longer due is passed over. One that would become available while its hash lists
-- other geo keys than declared stays in the schedule, untouched: the caller reads it again.
-- Returns {the ids now available, the ids left for their geo keys}.
local now = tonumber(ARGV[1])
local woken, stale = {}, {}
local k, a = 2, 3
while a < #ARGV do
  local vid, g = ARGV[a], tonumber(ARGV[a + 1])
  local vol = KEYS[k]
  local geo = {}
  for i = 1, g do geo[i] = KEYS[k + i] end
  a, k = a + 2, k + 1 + g
  local due = tonumber(redis.call('ZSCORE', KEYS[1], vid) or '')
  if due and due <= now then
    local f = redis.call('HMGET', vol, 'status', 'on_duty', 'geo', 'lat', 'lon')
    if f[1] == 'resting' and f[2] == '1' and (f[3] or '') ~= table.concat(geo, ',') then
      table.insert(stale, vid)
    else
      redis.call('ZREM', KEYS[1], vid)
      if f[1] == 'resting' then
        if f[2] == '1' then
          redis.call('HSET', vol, 'status', 'available')
          if f[4] and f[5] then
            for _, geo_key in ipairs(geo) do redis.call('GEOADD', geo_key, f[5], f[4], vid) end
          end
          table.insert(woken, vid)
        else
          redis.call('HSET', vol, 'status', 'off_duty')
        end
        redis.call('PUBLISH', ARGV[2], '{"kind":"volunteer","id":"' .. vid .. '"}')
      end
    end
  end
end
return {woken, stale}
