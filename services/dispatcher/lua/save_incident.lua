-- Save an incident's state and its read model together, only if nobody saved a newer version
-- meanwhile (the partition's owner is the only writer; this catches a zombie after a rebalance).
-- An ended incident's state is kept: a replayed report of it must still be recognised.
-- A state saved for the first time takes up the answers parked for the incident (answers that
-- overtook its offer, `Dispatch._park`) in the same round trip: they are returned and deleted.
-- KEYS[1] state hash   KEYS[2] incident:{id}   KEYS[3] incidents:open   KEYS[4] incidents:all
--       KEYS[5] the incident's parked answers (dsp:parked:{id})
--       KEYS[6] (optional) the generation marker: without it (Redis is being rebuilt), or with one
--       another Redis process wrote (restarted, or a replica promoted: `generation.lua`), nothing is saved
-- ARGV: 1 expected version, 2 state JSON, 3 view JSON, 4 incident id, 5 reported at (unix s),
--       6 '1' when open, 7 changes channel, 8 change notice
-- Returns {-1} when the version did not match, {-2} without the generation marker, else
-- {new version, parked answer, ...} (parked answers only when the expected version was 0).
if #KEYS >= 6 then
  local marker = redis.call('GET', KEYS[6])
  if not marker or string.match(marker, ' (%x+)$') ~=
      string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') then
    return {-2}
  end
end
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then
  return {-1}
end
redis.call('HSET', KEYS[1], 'version', version + 1, 'state', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[4])
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
else
  redis.call('ZREM', KEYS[3], ARGV[4])
end
redis.call('PUBLISH', ARGV[7], ARGV[8])
local out = {version + 1}
if version == 0 then
  for _, answer in ipairs(redis.call('LRANGE', KEYS[5], 0, -1)) do
    out[#out + 1] = answer
  end
  redis.call('DEL', KEYS[5])
end
return out
