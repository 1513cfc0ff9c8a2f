-- Fire one recurring schedule (resque-scheduler's persistent dynamic schedules, contract §12):
-- enqueue its job `count` times (the missed slots of a fail-over come together) and record
-- the slot in delayed:last_enqueued_at with Ruby's Time#to_s shape, as enqueue_recurring does.
--   ARGV: ns, lock key, lock value, name, config (exact JSON read from persistent_schedules),
--         has last (1/0), last (the value read from delayed:last_enqueued_at), new last,
--         slot (epoch second the fire is for), queue, payload, count, wake channel
-- It acts only while the caller holds the master lock, the schedule is still that config,
-- the slot is due by Redis's clock, and delayed:last_enqueued_at still holds what the caller
-- read (compare-and-set): two masters racing after a lock expiry fire a slot once. An empty
-- queue means the payload is a failed entry (a schedule with no queue fires into `failed`).
-- Returns {'fired' | 'lost' | 'changed' | 'raced' | 'early', TIME secs, TIME usecs}
local ns, key, me = ARGV[ARG.ns], ARGV[ARG.lock], ARGV[ARG.me]
local name, config = ARGV[ARG.name], ARGV[ARG.config]
local has_last, last, new_last = ARGV[ARG.has_last], ARGV[ARG.last], ARGV[ARG.new_last]
local slot, queue, payload = tonumber(ARGV[ARG.slot]), ARGV[ARG.queue], ARGV[ARG.payload]
local count, channel = tonumber(ARGV[ARG.count]), ARGV[ARG.channel]
local t = redis.call('TIME')
if redis.call('GET', key) ~= me then return {'lost', t[1], t[2]} end
if slot > tonumber(t[1]) then return {'early', t[1], t[2]} end
if redis.call('HGET', ns .. 'persistent_schedules', name) ~= config then
  return {'changed', t[1], t[2]}
end
local seen = redis.call('HGET', ns .. 'delayed:last_enqueued_at', name)
if (has_last == '1' and seen ~= last) or (has_last ~= '1' and seen) then
  return {'raced', t[1], t[2]}
end
if queue ~= '' then
  redis.call('SADD', ns .. 'queues', queue)
  for _ = 1, count do redis.call('RPUSH', ns .. 'queue:' .. queue, payload) end
  if channel ~= '' then redis.call('PUBLISH', channel, queue) end
else
  redis.call('RPUSH', ns .. 'failed', payload)
end
redis.call('HSET', ns .. 'delayed:last_enqueued_at', name, new_last)
return {'fired', t[1], t[2]}
