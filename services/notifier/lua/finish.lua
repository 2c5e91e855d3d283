-- Record how a claimed hop ended: state 'sent' (with the provider's message id) or 'failed'.
-- KEYS[1] claim hash; ARGV[1] field, ARGV[2] token, ARGV[3] JSON object with the final state and its
-- details, ARGV[4] hash time-to-live in s. Only the claim's holder finishes it. Returns 1 if recorded.
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
local final = cjson.decode(ARGV[3])
final.token = ARGV[2]
final.claimed_at = claim.claimed_at
final.finished_at = now
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(final))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
