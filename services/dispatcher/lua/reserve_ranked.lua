-- Rule 4 for ranked candidates: reserve, for the offers in order, the first of the candidates (in the
-- caller's rank order, `ranking.py`) who are still free, atomically. Free as `reserve.lua` has it:
-- available, on duty, not resting, holding no offer or assignment — and still indexed under the very
-- geo keys the caller read and declares here (a profile changed since the read is passed over, so no
-- index is left holding a reserved volunteer). A candidate taken meanwhile is passed over.
-- KEYS[1] deadlines zset, KEYS[2 … 1+n] the offer keys, then for each candidate in rank order: its
--         vol:{id} key, then the g geo keys it was read with
-- ARGV: 1 n (offers), 2 incident id, 3 offers expire (unix s), 4 offers expire (ISO), 5 now (unix s),
--       6 changes channel, 7 and 8 the change notice before and after the volunteer id,
--       9 … 8+n the offer ids, in order; then for each candidate: volunteer id, g
-- Returns the volunteer ids reserved, for the first offer ids in order.
local n, now = tonumber(ARGV[1]), tonumber(ARGV[5])
local reserved = {}
local k, a = 2 + n, 9 + n
while a < #ARGV and #reserved < n do
  local vid, g = ARGV[a], tonumber(ARGV[a + 1])
  local vol = KEYS[k]
  local geo = {}
  for i = 1, g do geo[i] = KEYS[k + i] end
  a, k = a + 2, k + 1 + g
  local f = redis.call('HMGET', vol, 'offer_id', 'status', 'on_duty', 'rest_ts', 'geo')
  if (not f[1] or f[1] == '') and f[2] == 'available' and f[3] == '1'
    and (tonumber(f[4] or '') or 0) <= now and (f[5] or '') == table.concat(geo, ',') then
    local i = #reserved + 1
    local offer_id, offer = ARGV[8 + i], KEYS[1 + i]
    redis.call('HSET', vol, 'status', 'offered', 'incident_id', ARGV[2], 'offer_id', offer_id)
    for _, key in ipairs(geo) do redis.call('ZREM', key, vid) end
    redis.call('DEL', offer)
    redis.call('HSET', offer, 'incident_id', ARGV[2], 'volunteer_id', vid, 'status', 'offered',
      'expires_at', ARGV[4])
    redis.call('ZADD', KEYS[1], ARGV[3], offer_id)
    redis.call('PUBLISH', ARGV[6], ARGV[7] .. vid .. ARGV[8])
    table.insert(reserved, vid)
  end
end
return reserved
