-- Retry's writes, made only if the failed list still holds the entry the caller decided on at
-- that index. KEYS: failed, queues, queue:<name>. ARGV: index, the raw entry read, the entry
-- with retried_at, the queue name, the job payload. Returns 0 (nothing written) or 1.
if redis.call('LINDEX', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('LSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('RPUSH', KEYS[3], ARGV[5])
return 1
