--! effects
-- Unregister a worker (ours or a dead one), failing or requeueing its claimed job, only if
-- the claim is still the one the caller read. Every key of the worker goes, forkq's own too
-- (its process's start stamp, its cycle fence).
-- ARGV: ns, wid, expected claim, failure, requeue queue, requeue payload, effects (a pruned
-- job's retry and lock: effects.lua), memo TTL ('' = none): with a TTL, the failure is also
-- kept under forkq:pruned:<claim sha1>, so a worker that was pruned while alive can replace
-- it with its job's true record (supersede.lua).
local ns, wid, expected = ARGV[ARG.ns], ARGV[ARG.wid], ARGV[ARG.expected]
local failure, memo_ttl = ARGV[ARG.failure], ARGV[ARG.memo_ttl]
local requeue_q, requeue_payload = ARGV[ARG.requeue_queue], ARGV[ARG.requeue_payload]
local current = redis.call('GET', ns .. 'worker:' .. wid) or ''
if current ~= expected then return -1 end
if current ~= '' then
  if requeue_q ~= '' then
    redis.call('SADD', ns .. 'queues', requeue_q)
    redis.call('LPUSH', ns .. 'queue:' .. requeue_q, requeue_payload)
  end
  if failure ~= '' then
    redis.call('RPUSH', ns .. 'failed', failure)
    if memo_ttl and memo_ttl ~= '' then
      redis.call('SET', ns .. 'forkq:pruned:' .. redis.sha1hex(current), failure,
                 'EX', memo_ttl)
    end
  end
  record_effects(ns, wid, ARGV[ARG.effects])  -- a pruned job's retry and lock (effects.lua)
end
redis.call('SREM', ns .. 'workers', wid)
redis.call('DEL', ns .. 'worker:' .. wid, ns .. 'worker:' .. wid .. ':started',
           ns .. 'stat:processed:' .. wid, ns .. 'stat:failed:' .. wid,
           ns .. 'forkq:pidstart:' .. wid, ns .. 'worker:' .. wid .. ':fence')
redis.call('HDEL', ns .. 'workers:heartbeat', wid)
return current ~= '' and 1 or 0
