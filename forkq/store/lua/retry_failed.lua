-- Retry's writes, made only if the failed list still holds the entry the caller decided on at
-- that index. KEYS: failed, queues, queue:<name>. ARGV: index, the raw entry read, the entry
-- with retried_at, the queue name, the job payload. Returns 0 (nothing written) or 1.
local index = ARGV[ARG.index]
if redis.call('LINDEX', KEYS[1], index) ~= ARGV[ARG.expected] then
  return 0
end
redis.call('LSET', KEYS[1], index, ARGV[ARG.retried])
redis.call('SADD', KEYS[2], ARGV[ARG.queue])
redis.call('RPUSH', KEYS[3], ARGV[ARG.payload])
return 1
