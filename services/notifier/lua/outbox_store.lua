-- Store a rendered message in the outbox once (DESIGN.md §4): newest first, lists capped, and a notice
-- on the `changes` channel. Idempotent per notification id, so a retried store adds nothing.
-- KEYS[1] marker, KEYS[2] outbox list, KEYS[3] the volunteer's outbox list ('' when none),
-- KEYS[4] changes channel; ARGV[1] OutboxMessage JSON, ARGV[2] outbox cap, ARGV[3] per-volunteer cap,
-- ARGV[4] marker time-to-live in s, ARGV[5] change notice JSON. Returns 1 if stored, 0 if already there.
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[4])) then
  return 0
end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
if KEYS[3] ~= '' then
  redis.call('LPUSH', KEYS[3], ARGV[1])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1)
end
redis.call('PUBLISH', KEYS[4], ARGV[5])
return 1
