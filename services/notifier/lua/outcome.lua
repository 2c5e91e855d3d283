-- Record that a notification's outcome is reported (its result event is on `deliveries`), so a
-- redelivered request is recognised as handled (`claim.lua` answers 'done').
-- KEYS[1] the notification's claim hash; ARGV[1] the outcome, ARGV[2] the hash's time-to-live in s.
redis.call('HSET', KEYS[1], 'outcome', ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
