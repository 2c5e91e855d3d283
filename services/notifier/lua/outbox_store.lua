-- Store a rendered message in the outbox once (DESIGN.md §4): newest first, lists capped, and a notice
-- on the `changes` channel. Idempotent per notification id, so a retried store adds nothing. With a
-- claim given, the hop is also marked sent in the same step (as `finish.lua` does: only by the
-- claim's holder), which saves the notifier a round trip per notification.
-- KEYS[1] marker, KEYS[2] outbox list, then the volunteer's outbox list (when ARGV[7] is '1'), then
-- the notification's claim hash (when ARGV[8..11] are given): every key it touches is declared.
-- ARGV[1] OutboxMessage JSON, ARGV[2] outbox cap, ARGV[3] per-volunteer cap, ARGV[4] marker
-- time-to-live in s, ARGV[5] changes channel, ARGV[6] change notice JSON, ARGV[7] '1' with the
-- volunteer's list; with a claim: ARGV[8] its field (the hop), ARGV[9] the claimer's token, ARGV[10]
-- JSON object with the final state, ARGV[11] the claim hash's time-to-live in s.
-- Returns 1 if stored, 0 if already there.
local stored = 0
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[4])) then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
  if ARGV[7] == '1' then
    redis.call('LPUSH', KEYS[3], ARGV[1])
    redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1)
  end
  redis.call('PUBLISH', ARGV[5], ARGV[6])
  stored = 1
end
if #ARGV >= 11 then
  local claim_key = KEYS[#KEYS]
  local current = redis.call('HGET', claim_key, ARGV[8])
  if current then
    local claim = cjson.decode(current)
    if claim.state == 'claimed' and claim.token == ARGV[9] then
      local t = redis.call('TIME')
      local final = cjson.decode(ARGV[10])
      final.token = ARGV[9]
      final.claimed_at = claim.claimed_at
      final.finished_at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      redis.call('HSET', claim_key, ARGV[8], cjson.encode(final))
      redis.call('EXPIRE', claim_key, tonumber(ARGV[11]))
    end
  end
end
return stored
