-- The fields ARGV names of each volunteer hash in KEYS, in one reply (one command instead of a
-- pipelined HMGET per candidate: the client's cost per command is what a ring's read spent most on).
-- Returns a flat list: for each key, one value per field ('' when missing).
local out = {}
for _, key in ipairs(KEYS) do
  local f = redis.call('HMGET', key, unpack(ARGV))
  for j = 1, #ARGV do
    local v = f[j]
    if not v then v = '' end
    table.insert(out, v)
  end
end
return out
