-- Enqueue a unique job (until_executing, until_executed): take its lock and push it, or
-- refuse, in one step so two producers never both push. The lock is node-resque QueueLock's:
-- SET NX with a TTL, the value the epoch it expires; like QueueLock, a lock whose value is
-- past (left without a TTL) is taken over.
-- ARGV: ns, lock key, ttl, queue, payload. Returns {1, ttl} pushed | {0, seconds left} refused.
local ns, lock, ttl = ARGV[ARG.ns], ARGV[ARG.lock], tonumber(ARGV[ARG.ttl])
local queue, payload = ARGV[ARG.queue], ARGV[ARG.payload]
local now = tonumber(redis.call('TIME')[1])
local value = string.format('%d', now + ttl + 1)
if not redis.call('SET', ns .. lock, value, 'NX', 'EX', ttl) then
  local until_ = tonumber(redis.call('GET', ns .. lock))
  if until_ and now <= until_ then return {0, redis.call('TTL', ns .. lock)} end
  redis.call('SET', ns .. lock, value, 'EX', ttl)
end
redis.call('SADD', ns .. 'queues', queue)
redis.call('RPUSH', ns .. 'queue:' .. queue, payload)
redis.call('PUBLISH', ns .. 'forkq:wake', queue)
return {1, ttl}
