-- The failed entries at LRANGE positions ARG.first..ARG.last whose bytes contain every one of
-- the needles (the rest of ARGV): a filtered Failed page's candidates, so that only they cross
-- the network (the caller still parses each and checks the field). One chunk per call, so
-- Redis is never held for a whole long list. KEYS: failed. Returns {entries read, index,
-- entry, index, entry, ...}, in list order.
local first = tonumber(ARGV[ARG.first])
local raws = redis.call('LRANGE', KEYS[1], first, ARGV[ARG.last])
local out = {#raws}
for i, raw in ipairs(raws) do
  local keep = true
  for n = ARG.needles, #ARGV do
    if not string.find(raw, ARGV[n], 1, true) then
      keep = false
      break
    end
  end
  if keep then
    out[#out + 1] = first + i - 1
    out[#out + 1] = raw
  end
end
return out
