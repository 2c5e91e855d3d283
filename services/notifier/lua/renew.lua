-- Extend the lease of a claim still held by this token (the worker's heartbeat).
-- KEYS[1] claim hash; ARGV[1] field, ARGV[2] token, ARGV[3] lease in ms. Returns 1 if renewed.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  return 0
end
local claim = cjson.decode(current)
if claim.state ~= 'claimed' or claim.token ~= ARGV[2] then
  return 0
end
claim.lease_until = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(claim))
return 1
