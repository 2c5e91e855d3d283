-- The generation marker and the Redis process it belongs to (DESIGN.md §1 "The generation marker").
-- A rebuild writes `<generation> <run_id>`: the run id of the Redis process it rebuilt. Any other
-- process — this one restarted from its AOF (fsynced once a second), a replica Sentinel promoted
-- (replication is asynchronous) — may lack writes acknowledged before: its marker is stale and counts
-- as missing until a rebuild from the topics writes one of its own. (`search.lua` and
-- `save_incident.lua` check the same inside their scripts.)
-- KEYS[1] the generation marker
-- ARGV[1] 'read':  returns {generation or '', this process's run id}
--         'write': ARGV[2] the generation, ARGV[3] the run id the rebuild began on; writes the marker
--                  only if this is still that process; returns {1 or 0, this process's run id}
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if ARGV[1] == 'write' then
  if ARGV[3] ~= run_id then
    return {0, run_id}
  end
  redis.call('SET', KEYS[1], ARGV[2] .. ' ' .. run_id)
  return {1, run_id}
end
local marker = redis.call('GET', KEYS[1])
if not marker then
  return {'', run_id}
end
local generation, owner = string.match(marker, '^(%S+) (%x+)$')
if owner ~= run_id then
  return {'', run_id}
end
return {generation, run_id}
