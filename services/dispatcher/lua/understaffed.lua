-- Keep an incident in the understaffed registry and in one registry per kind of need it is short of,
-- or take it out of all of them (rule 7). A volunteer becoming free wakes the oldest incidents of
-- the kinds they are indexed under (wake_understaffed.lua), not every understaffed incident.
-- KEYS[1] dsp:understaffed (zset, oldest first)   KEYS[2] dsp:understaffed:kinds (hash: incident id
-- → its kind registries, comma-separated)   KEYS[3..] the kind registries it is short of now
-- ARGV: 1 incident id, 2 score (reported at, unix s), or '' to take it out of every registry
local id, score = ARGV[1], ARGV[2]
local now = {}
for i = 3, #KEYS do now[KEYS[i]] = true end
local before = redis.call('HGET', KEYS[2], id)
if before then
  for key in string.gmatch(before, '[^,]+') do
    if score == '' or not now[key] then redis.call('ZREM', key, id) end
  end
end
if score == '' then
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  return 0
end
redis.call('ZADD', KEYS[1], score, id)
local kinds = {}
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], score, id)
  table.insert(kinds, KEYS[i])
end
redis.call('HSET', KEYS[2], id, table.concat(kinds, ','))
return 1
