-- resque-web's Remove of one failed entry (the empty-string sentinel, then LREM 1 of it), made
-- only if the index still holds the entry the caller showed. KEYS: failed. ARGV: index, the raw
-- entry read. Returns 0 (nothing written) or 1.
if redis.call('LINDEX', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('LSET', KEYS[1], ARGV[1], '')
redis.call('LREM', KEYS[1], 1, '')
return 1
