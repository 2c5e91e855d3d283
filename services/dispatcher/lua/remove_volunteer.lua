-- A tombstone on the compacted `volunteers` topic: the volunteer leaves the roster. One holding an
-- offer or assignment keeps that hold (the incident still references them) but leaves every index.
-- KEYS[1] vol:{id}   KEYS[2] volunteers set   KEYS[3] resting zset
-- ARGV: 1 volunteer id, 2 changes channel, 3 change notice
local vol, vid = KEYS[1], ARGV[1]
local geo = redis.call('HGET', vol, 'geo')
if geo then
  for key in string.gmatch(geo, '[^,]+') do redis.call('ZREM', key, vid) end
end
local kel = redis.call('HGET', vol, 'kel')
if kel then
  for key in string.gmatch(kel, '[^,]+') do redis.call('SREM', key, vid) end
end
redis.call('SREM', KEYS[2], vid)
redis.call('ZREM', KEYS[3], vid)
local status = redis.call('HGET', vol, 'status')
if status == 'offered' or status == 'assigned' then
  redis.call('HSET', vol, 'on_duty', '0', 'geo', '', 'kel', '')
else
  redis.call('DEL', vol)
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
