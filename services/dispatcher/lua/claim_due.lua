-- Offer expiry is data (rule 5): claim offers whose deadline has passed by leasing their score
-- forward, so the claimant produces `offer.expired` and, if it dies first, another worker claims the
-- offer again when the lease runs out. Offers no longer outstanding leave the schedule.
-- KEYS[1] deadlines zset
-- ARGV: 1 now (unix s), 2 lease until (unix s), 3 at most this many, 4 offer key prefix
-- Returns a flat list: offer id, incident id, volunteer id, offer id, …
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, offer_id in ipairs(due) do
  local f = redis.call('HMGET', ARGV[4] .. offer_id, 'incident_id', 'volunteer_id', 'status')
  if f[3] == 'offered' then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[2], offer_id)
    table.insert(out, offer_id)
    table.insert(out, f[1])
    table.insert(out, f[2])
  else
    redis.call('ZREM', KEYS[1], offer_id)
  end
end
return out
