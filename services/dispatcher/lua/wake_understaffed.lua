-- Volunteers became free: wake the understaffed incidents they could help (rule 7). For each kind of
-- need the available ones among them are indexed under (their `geo` keys: `unit`, `unit:skill`), the
-- oldest `fanout` incidents short of that kind per such volunteer. Each of those with no retry on its
-- way gets one flagged; their ids are returned. A volunteer no longer available (reserved meanwhile,
-- resting, off duty) wakes nothing. Bounded by the volunteers freed, not by how many incidents wait.
-- The caller reads first what this looks up (the volunteers' `status` and `geo`, the kind registries
-- those map to, the incidents in them) and declares it all:
-- KEYS: the n freed volunteers' vol:{id} hashes, the m kind registries their geo keys map to (in the
--       order the caller met them), then the retry flags of the incidents the caller read from those
-- ARGV: 1 n, 2 m, 3 flag TTL (s), 4 fanout, 5 incident ids not to wake (comma-separated), then
--       ARGV[5 + i] describes KEYS[i]: a volunteer's `geo` as read ('' when it was not available),
--       a kind registry's geo key, a retry flag's incident id
-- Returns the incident ids flagged, or -1 when what the caller read no longer holds (a volunteer
-- available under other geo keys, a registry naming an incident whose flag is not declared): nothing
-- changed, the caller reads again.
local n, m = tonumber(ARGV[1]), tonumber(ARGV[2])
local fanout = tonumber(ARGV[4])
local kind_at, flag_at = {}, {}
for j = n + 1, n + m do kind_at[ARGV[5 + j]] = j end
for i = n + m + 1, #KEYS do flag_at[ARGV[5 + i]] = i end
local per_kind = {}
for i = 1, n do
  local f = redis.call('HMGET', KEYS[i], 'status', 'geo')
  if f[1] == 'available' then
    local geo = f[2] or ''
    if geo ~= ARGV[5 + i] then
      return -1
    end
    for geo_key in string.gmatch(geo, '[^,]+') do
      local j = kind_at[geo_key]
      if j then per_kind[j] = (per_kind[j] or 0) + 1 end
    end
  end
end
local skip, skipped = {}, 0
for id in string.gmatch(ARGV[5], '[^,]+') do
  skip[id] = true
  skipped = skipped + 1
end
local seen, flags = {}, {}
for j = n + 1, n + m do
  local want = fanout * (per_kind[j] or 0)
  local taken = 0
  if want > 0 then
    for _, id in ipairs(redis.call('ZRANGE', KEYS[j], 0, want + skipped - 1)) do
      if taken >= want then break end
      if not skip[id] then
        taken = taken + 1
        if not seen[id] then
          seen[id] = true
          if not flag_at[id] then
            return -1
          end
          table.insert(flags, flag_at[id])
        end
      end
    end
  end
end
local woken = {}
for _, i in ipairs(flags) do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[3]) then
    table.insert(woken, ARGV[5 + i])
  end
end
return woken
