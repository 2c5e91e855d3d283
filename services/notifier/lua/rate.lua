-- Reserve a send slot on a channel shared by every notifier worker (GCRA, "generic cell rate").
-- KEYS[1] the channel's theoretical arrival time (ms); ARGV[1] emission interval in ms (1000 / rate),
-- ARGV[2] burst (sends allowed back to back), ARGV[3] the longest wait the caller accepts, in ms.
-- Returns the ms to wait before sending (the slot is then reserved), or -1 when that wait would be
-- longer than the caller accepts (nothing is reserved).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = (tonumber(ARGV[2]) - 1) * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local wait = tat - tolerance - now
if wait < 0 then
  wait = 0
end
if wait > tonumber(ARGV[3]) then
  return -1
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - now + 1000))
return wait
