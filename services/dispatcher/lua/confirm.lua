-- An offer was accepted: the volunteer's hold becomes an assignment, and the deployment is recorded
-- for the fairness order (rule 3). The offer leaves the expiry schedule.
-- KEYS[1] vol:{id}   KEYS[2] offer:{offer_id}   KEYS[3] deadlines zset
-- ARGV: 1 offer id, 2 now (ISO, fixed width), 3 fairness cut-off (ISO, fixed width),
--       4 changes channel, 5 change notice
local vol, offer_id = KEYS[1], ARGV[1]
redis.call('ZREM', KEYS[3], offer_id)
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'status', 'accepted')
end
if redis.call('HGET', vol, 'offer_id') ~= offer_id then
  return 0
end
if redis.call('HGET', vol, 'status') == 'assigned' then
  return 1
end
local kept = {}
local raw = redis.call('HGET', vol, 'deployments')
if raw and raw ~= '' then
  for _, at in ipairs(cjson.decode(raw)) do
    if at >= ARGV[3] then table.insert(kept, at) end
  end
end
table.insert(kept, ARGV[2])
redis.call('HSET', vol, 'status', 'assigned', 'deployments', cjson.encode(kept), 'last_deployed_at', ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
