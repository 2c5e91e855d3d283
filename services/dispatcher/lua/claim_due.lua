-- Offer expiry is data (rule 5): claim offers whose deadline has passed by leasing their score
-- forward, so the claimant produces `offer.expired` and, if it dies first, another worker claims the
-- offer again when the lease runs out. Offers no longer outstanding leave the schedule.
-- KEYS[1] deadlines zset, KEYS[2 …] the offer:{offer_id} hashes of the offers the caller read as due
-- ARGV: 1 now (unix s), 2 lease until (unix s), 3 … the offer ids, in the order of their keys
-- An offer no longer due (claimed by another worker meanwhile, or ended) is passed over.
-- Returns a flat list: offer id, incident id, volunteer id, offer id, …
local now = tonumber(ARGV[1])
local out = {}
for i = 2, #KEYS do
  local offer_id = ARGV[i + 1]
  local due = tonumber(redis.call('ZSCORE', KEYS[1], offer_id) or '')
  if due and due <= now then
    local f = redis.call('HMGET', KEYS[i], 'incident_id', 'volunteer_id', 'status')
    if f[3] == 'offered' then
      redis.call('ZADD', KEYS[1], 'XX', ARGV[2], offer_id)
      table.insert(out, offer_id)
      table.insert(out, f[1])
      table.insert(out, f[2])
    else
      redis.call('ZREM', KEYS[1], offer_id)
    end
  end
end
return out
