-- A tombstone on the compacted `volunteers` topic: the volunteer leaves the roster. One holding an
-- offer or assignment keeps that hold (the incident still references them) but leaves every index.
-- KEYS[1] vol:{id}   KEYS[2] volunteers set   KEYS[3] resting zset, then the indexes the hash lists
--      as the caller read them: its g geo keys (`geo`), then its kelurahan index keys (`kel`)
-- ARGV: 1 volunteer id, 2 changes channel, 3 change notice, 4 g
-- Returns 1, or {'stale', geo, kel} when the hash lists other indexes than the caller read (nothing
-- changed: the caller tries again with these).
local vol, vid = KEYS[1], ARGV[1]
local g = tonumber(ARGV[4])
local geo, kel = {}, {}
for i = 4, 3 + g do table.insert(geo, KEYS[i]) end
for i = 4 + g, #KEYS do table.insert(kel, KEYS[i]) end
local f = redis.call('HMGET', vol, 'geo', 'kel', 'status')
if (f[1] or '') ~= table.concat(geo, ',') or (f[2] or '') ~= table.concat(kel, ',') then
  return {'stale', f[1] or '', f[2] or ''}
end
for _, geo_key in ipairs(geo) do redis.call('ZREM', geo_key, vid) end
for _, kel_key in ipairs(kel) do redis.call('SREM', kel_key, vid) end
redis.call('SREM', KEYS[2], vid)
redis.call('ZREM', KEYS[3], vid)
if f[3] == 'offered' or f[3] == 'assigned' then
  redis.call('HSET', vol, 'on_duty', '0', 'geo', '', 'kel', '')
else
  redis.call('DEL', vol)
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
