-- Claim one hop (channel|address) of a notification before handing it to a provider.
-- KEYS[1]  the notification's claim hash
-- ARGV[1]  field (the route key), ARGV[2] claimer token, ARGV[3] lease in ms,
-- ARGV[4]  hash time-to-live in s, ARGV[5] '1' to take over a stale claim (idempotent channels only)
-- Returns {verdict, claim JSON}: verdict 'mine' | 'busy' (a live claim of someone else) |
-- 'stale' (claimed, lease expired: its worker died mid-send) | 'sent' | 'failed'; or {'done', outcome}
-- when the notification's outcome is already reported (nothing is claimed then).
local outcome = redis.call('HGET', KEYS[1], 'outcome')
if outcome then
  return {'done', outcome}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function take()
  local claim = cjson.encode({state = 'claimed', token = ARGV[2], claimed_at = now,
                              lease_until = now + tonumber(ARGV[3])})
  redis.call('HSET', KEYS[1], ARGV[1], claim)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
  return claim
end

local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  return {'mine', take()}
end
local claim = cjson.decode(current)
if claim.state == 'claimed' then
  if claim.token == ARGV[2] then
    return {'mine', current}
  end
  if now > tonumber(claim.lease_until) then
    if ARGV[5] == '1' then
      return {'mine', take()}
    end
    return {'stale', current}
  end
  return {'busy', current}
end
return {claim.state, current}
