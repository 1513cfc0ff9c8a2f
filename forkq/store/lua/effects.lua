-- What a job's record does beyond Resque's own, for retries and unique jobs: given as JSON by
-- forkq.worker.retries (Settlement.argv), applied by the scripts that record a job (cycle and
-- supersede through write_record, below; release) only when the record itself goes through,
-- so a retry is scheduled once, together with done_working and the counters, or not at all.
-- Keys are logical (under ns).
--   stat_failed  count the failure in stat:failed although no `failed` entry is written
--                (resque-retry's suppression: Resque still counts it)
--   retry        {delay, key, queue, payload, item, failure_key, failure, failure_ttl}: the next
--                try, as resque-retry's try_again: SETNX of the attempt counter, then the
--                queue at once (delay 0) or resque-scheduler's delayed_push at Redis TIME +
--                delay, rounded to the whole second its timestamps hold, plus the
--                MultipleWithRetrySuppression record of this failure
--   decr         an attempt counter to step back (the attempt never ran its course)
--   del, expire  counters and locks to delete, locks to keep alive ([key, seconds])
local function record_effects(ns, wid, text)
  if text == nil or text == '' then return end
  local e = cjson.decode(text)
  if e.stat_failed then
    redis.call('INCRBY', ns .. 'stat:failed', 1)
    redis.call('INCRBY', ns .. 'stat:failed:' .. wid, 1)
  end
  local r = e.retry
  if r then
    if r.key then redis.call('SETNX', ns .. r.key, -1) end
    if r.delay <= 0 then
      redis.call('SADD', ns .. 'queues', r.queue)
      redis.call('RPUSH', ns .. 'queue:' .. r.queue, r.payload)
      redis.call('PUBLISH', ns .. 'forkq:wake', r.queue)
    else
      local now = redis.call('TIME')
      local ts = string.format('%d', math.floor(tonumber(now[1]) + tonumber(now[2]) / 1000000
                                                + r.delay + 0.5))
      redis.call('RPUSH', ns .. 'delayed:' .. ts, r.item)
      redis.call('SADD', ns .. 'timestamps:' .. r.item, 'delayed:' .. ts)
      redis.call('ZADD', ns .. 'delayed_queue_schedule', ts, ts)
      if r.failure then
        redis.call('SETEX', ns .. r.failure_key, r.failure_ttl, r.failure)
      end
    end
  end
  if e.decr then redis.call('DECR', ns .. e.decr) end
  for _, key in ipairs(e.del or {}) do redis.call('DEL', ns .. key) end
  for _, pair in ipairs(e.expire or {}) do redis.call('EXPIRE', ns .. pair[1], pair[2]) end
end


-- A job's own record, as its worker writes it (cycle.lua; supersede.lua in a prune's place):
-- back to the head of its queue (at-least-once: not processed, so no stat:processed), or done
-- (stat:processed); a failed entry if it failed, counted unless suppressed; then its effects.
local function write_record(ns, wid, requeue_q, requeue_payload, failure, count_failed,
                            effects)
  if requeue_q ~= '' then
    redis.call('SADD', ns .. 'queues', requeue_q)
    redis.call('LPUSH', ns .. 'queue:' .. requeue_q, requeue_payload)
  else
    redis.call('INCRBY', ns .. 'stat:processed', 1)
    redis.call('INCRBY', ns .. 'stat:processed:' .. wid, 1)
  end
  if failure ~= '' then
    redis.call('RPUSH', ns .. 'failed', failure)
    if count_failed == '1' then
      redis.call('INCRBY', ns .. 'stat:failed', 1)
      redis.call('INCRBY', ns .. 'stat:failed:' .. wid, 1)
    end
  end
  record_effects(ns, wid, effects)
end
