-- Keep an incident in the understaffed registry and in one registry per kind of need it is short of,
-- or take it out of all of them (rule 7). A volunteer becoming free wakes the oldest incidents of
-- the kinds they are indexed under (wake_understaffed.lua), not every understaffed incident.
-- KEYS[1] dsp:understaffed (zset, oldest first)   KEYS[2] dsp:understaffed:kinds (hash: incident id
-- → its kind registries, comma-separated)   KEYS[3 .. 2+n] the kind registries it is short of now,
-- then the registries it was in (those ARGV[4] lists): every key it touches is declared.
-- ARGV: 1 incident id, 2 score (reported at, unix s), or '' to take it out of every registry,
--       3 n, 4 the registries it was in as the caller read them from KEYS[2] ('' for none)
-- Returns -1 when KEYS[2] lists other registries by now (the caller reads them again), 1 when it is
-- in the registries, 0 when taken out.
local id, score, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
if (redis.call('HGET', KEYS[2], id) or '') ~= ARGV[4] then
  return -1
end
local now = {}
for i = 3, 2 + n do now[KEYS[i]] = true end
for i = 3 + n, #KEYS do
  if score == '' or not now[KEYS[i]] then redis.call('ZREM', KEYS[i], id) end
end
if score == '' then
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  return 0
end
redis.call('ZADD', KEYS[1], score, id)
local kinds = {}
for i = 3, 2 + n do
  redis.call('ZADD', KEYS[i], score, id)
  table.insert(kinds, KEYS[i])
end
redis.call('HSET', KEYS[2], id, table.concat(kinds, ','))
return 1
