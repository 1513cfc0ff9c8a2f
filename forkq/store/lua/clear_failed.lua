-- Clear the failed entries a page showed: the first ARGV[1] of them, only if the newest of
-- those (index ARGV[1] - 1) is still the entry the caller read (ARGV[2]). Entries pushed since
-- sit after it and stay. KEYS: failed. Returns 0 (nothing written) or 1.
local last = tonumber(ARGV[1]) - 1
if redis.call('LINDEX', KEYS[1], last) ~= ARGV[2] then
  return 0
end
redis.call('LTRIM', KEYS[1], last + 1, -1)
return 1
