-- Give back a claim whose provider call never started (the worker is stopping), so the hop is tried
-- again on redelivery. KEYS[1] claim hash; ARGV[1] field, ARGV[2] token. Returns 1 if released.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  return 0
end
local claim = cjson.decode(current)
if claim.state ~= 'claimed' or claim.token ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
