-- Store a rendered message in the outbox once (DESIGN.md §4): newest first, lists capped, and a notice
-- on the `changes` channel. Idempotent per notification id, so a retried store adds nothing. With a
-- claim given, the hop is also marked sent in the same step (as `finish.lua` does: only by the
-- claim's holder), which saves the notifier a round trip per notification.
-- KEYS[1] marker, KEYS[2] outbox list, KEYS[3] the volunteer's outbox list ('' when none),
-- KEYS[4] changes channel, KEYS[5] the notification's claim hash ('' when none);
-- ARGV[1] OutboxMessage JSON, ARGV[2] outbox cap, ARGV[3] per-volunteer cap, ARGV[4] marker
-- time-to-live in s, ARGV[5] change notice JSON; with a claim: ARGV[6] its field (the hop), ARGV[7] the
-- claimer's token, ARGV[8] JSON object with the final state, ARGV[9] the claim hash's time-to-live in s.
-- Returns 1 if stored, 0 if already there.
local stored = 0
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[4])) then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
  if KEYS[3] ~= '' then
    redis.call('LPUSH', KEYS[3], ARGV[1])
    redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1)
  end
  redis.call('PUBLISH', KEYS[4], ARGV[5])
  stored = 1
end
if KEYS[5] ~= '' then
  local current = redis.call('HGET', KEYS[5], ARGV[6])
  if current then
    local claim = cjson.decode(current)
    if claim.state == 'claimed' and claim.token == ARGV[7] then
      local t = redis.call('TIME')
      local final = cjson.decode(ARGV[8])
      final.token = ARGV[7]
      final.claimed_at = claim.claimed_at
      final.finished_at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      redis.call('HSET', KEYS[5], ARGV[6], cjson.encode(final))
      redis.call('EXPIRE', KEYS[5], tonumber(ARGV[9]))
    end
  end
end
return stored
