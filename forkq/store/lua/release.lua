--! effects
local ns, wid, expected, failure, requeue_q, requeue_payload =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local current = redis.call('GET', ns .. 'worker:' .. wid) or ''
if current ~= expected then return -1 end
if current ~= '' then
  if requeue_q ~= '' then
    redis.call('SADD', ns .. 'queues', requeue_q)
    redis.call('LPUSH', ns .. 'queue:' .. requeue_q, requeue_payload)
  end
  if failure ~= '' then redis.call('RPUSH', ns .. 'failed', failure) end
  record_effects(ns, wid, ARGV[7])  -- a pruned job's retry and lock (effects.lua)
end
redis.call('SREM', ns .. 'workers', wid)
redis.call('DEL', ns .. 'worker:' .. wid, ns .. 'worker:' .. wid .. ':started',
           ns .. 'stat:processed:' .. wid, ns .. 'stat:failed:' .. wid)
redis.call('HDEL', ns .. 'workers:heartbeat', wid)
return current ~= '' and 1 or 0
