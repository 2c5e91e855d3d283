-- One ring of the candidate search (rule 3): the nearest available volunteers of a unit (and skill)
-- within a radius, nearest first. Ranking is not done here: the caller reads the volunteers' hashes,
-- ranks them (`ranking.py`, the one place the rules live) and reserves the first ones still free
-- (`reserve_ranked.lua`, which declares their keys).
--
-- GEOSEARCH costs time in proportion to the points inside its search area, whatever COUNT says. So
-- the ring is searched from a small disc outwards, doubling the radius, and stops at the first disc
-- that holds COUNT volunteers: those are exactly the COUNT nearest of the whole ring. A dense roster is
-- answered from a disc of a few hundred metres, a sparse one costs a few searches of empty discs.
--
-- KEYS[1] geo key (available volunteers of the unit, or of the unit and skill)
-- KEYS[2…] offer keys that, when any exists, mean a redelivered event already reserved under them:
--          then nothing is searched and the reply is just '!' (the caller takes up those offers first)
--          — and, when ARGV[6] starts with '1', the last of them is instead the incident's state hash:
--          the caller searched without loading the state (a report it had not seen); if the state
--          exists, nothing is searched and the reply is just '?' (the caller loads it and starts over)
--          — and, when ARGV[6] ends in 'g', the very last key is the generation marker: without it
--          (Redis lost, a rebuild under way), or with one another Redis process wrote (this one
--          restarted, or a replica promoted: it may lack the last writes; `generation.lua`), nothing
--          is searched and the reply is just '~'
-- ARGV: 1 longitude, 2 latitude, 3 radius (km), 4 at most this many,
--       5 first radius to try (km; the ring's radius to search it at once),
--       6 '1' when the last key (before the marker) is the state hash, else '0'; then 'g' when the
--         last key is the generation marker
-- Returns a flat list: '#' .. how many the last geo search found, then their ids, nearest first.
local last = #KEYS
if string.sub(ARGV[6], 2, 2) == 'g' then
  local marker = redis.call('GET', KEYS[last])
  if not marker or string.match(marker, ' (%x+)$') ~=
      string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') then
    return {'~'}
  end
  last = last - 1
end
local offers_to = last
if string.sub(ARGV[6], 1, 1) == '1' then
  if redis.call('EXISTS', KEYS[last]) == 1 then
    return {'?'}
  end
  offers_to = last - 1
end
for i = 2, offers_to do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return {'!'}
  end
end
local radius, count = tonumber(ARGV[3]), tonumber(ARGV[4])
local r = math.min(tonumber(ARGV[5]), radius)
if not (r > 0) then r = radius end
local found
while true do
  found = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', r, 'km',
    'ASC', 'COUNT', count)
  if #found >= count or r >= radius then
    break
  end
  r = math.min(r * 2, radius)
end
local out = {'#' .. #found}
for _, vid in ipairs(found) do table.insert(out, vid) end
return out
