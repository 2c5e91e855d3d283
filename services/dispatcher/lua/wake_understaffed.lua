-- Volunteers became free: wake the understaffed incidents they could help (rule 7). For each kind of
-- need the available ones among them are indexed under (their `geo` keys: `unit`, `unit:skill`), the
-- oldest `fanout` incidents short of that kind per such volunteer. Each of those with no retry on its
-- way gets one flagged; their ids are returned. A volunteer no longer available (reserved meanwhile,
-- resting, off duty) wakes nothing. Bounded by the volunteers freed, not by how many incidents wait.
-- KEYS: the freed volunteers' vol:{id} hashes
-- ARGV: 1 geo key prefix ('…dsp:geo:'), 2 kind registry prefix ('…dsp:understaffed:k:'),
--       3 retry flag prefix, 4 flag TTL (s), 5 fanout, 6 incident ids not to wake (comma-separated)
-- The kind registries and retry flags it touches follow from the volunteers' data (their kinds, the
-- incidents waiting); they share the deployment's hash tag, so the script stays in one slot.
local geo_prefix, kind_prefix = ARGV[1], ARGV[2]
local fanout = tonumber(ARGV[5])
local per_kind, order = {}, {}
for i = 1, #KEYS do
  local vol = KEYS[i]
  if redis.call('HGET', vol, 'status') == 'available' then
    local geo = redis.call('HGET', vol, 'geo') or ''
    for key in string.gmatch(geo, '[^,]+') do
      if string.sub(key, 1, #geo_prefix) == geo_prefix then
        local kind = kind_prefix .. string.sub(key, #geo_prefix + 1)
        if not per_kind[kind] then
          per_kind[kind] = 0
          table.insert(order, kind)
        end
        per_kind[kind] = per_kind[kind] + 1
      end
    end
  end
end
local skip, skipped = {}, 0
for id in string.gmatch(ARGV[6], '[^,]+') do
  skip[id] = true
  skipped = skipped + 1
end
local seen, woken = {}, {}
for _, kind in ipairs(order) do
  local want = fanout * per_kind[kind]
  local taken = 0
  for _, id in ipairs(redis.call('ZRANGE', kind, 0, want + skipped - 1)) do
    if taken >= want then break end
    if not skip[id] then
      taken = taken + 1
      if not seen[id] then
        seen[id] = true
        if redis.call('SET', ARGV[3] .. id, '1', 'NX', 'EX', ARGV[4]) then
          table.insert(woken, id)
        end
      end
    end
  end
end
return woken
