-- enqueue_at / enqueue_in: resque-scheduler's delayed_push (contract §12) in one round trip,
-- with "now" from Redis TIME so a producer's clock never decides when a job runs.
--   ARGV: ns, mode ('at' = `when` is the epoch second, 'in' = seconds from now),
--         when, item {"class","args","queue"}, queue, payload {"class","args"}, wake channel
-- A time now or past goes straight to the queue (Ruby: timestamp.to_i <= Time.now.to_i);
-- otherwise RPUSH delayed:<ts>, SADD timestamps:<item>, ZADD delayed_queue_schedule, in
-- Ruby's order. Returns {'queued' | 'delayed', ts, redis now}.
local ns, mode, when = ARGV[ARG.ns], ARGV[ARG.mode], ARGV[ARG.when]
local item, queue, payload = ARGV[ARG.item], ARGV[ARG.queue], ARGV[ARG.payload]
local channel = ARGV[ARG.channel]
local t = redis.call('TIME')
local now = tonumber(t[1])
local ts
if mode == 'in' then
  ts = math.floor(now + tonumber(t[2]) / 1000000 + tonumber(when))
else
  ts = tonumber(when)
end
local stamp = string.format('%.0f', ts)
if ts <= now then
  redis.call('SADD', ns .. 'queues', queue)
  redis.call('RPUSH', ns .. 'queue:' .. queue, payload)
  if channel ~= '' then redis.call('PUBLISH', channel, queue) end
  return {'queued', stamp, now}
end
redis.call('RPUSH', ns .. 'delayed:' .. stamp, item)
redis.call('SADD', ns .. 'timestamps:' .. item, 'delayed:' .. stamp)
redis.call('ZADD', ns .. 'delayed_queue_schedule', stamp, stamp)
return {'delayed', stamp, now}
