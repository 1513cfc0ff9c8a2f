-- remove_delayed_job_from_timestamp (resque-web's Delayed tab, "cancel"): every copy of exactly
-- one item at one timestamp, then clean_up_timestamp's DEL + ZREM once the list is empty.
--   ARGV: ns, <ts>, item.  Returns the number of items removed.
local ns, ts, item = ARGV[ARG.ns], ARGV[ARG.ts], ARGV[ARG.item]
local key = ns .. 'delayed:' .. ts
redis.call('SREM', ns .. 'timestamps:' .. item, 'delayed:' .. ts)
local count = redis.call('LREM', key, 0, item)
if redis.call('LLEN', key) == 0 then
  redis.call('DEL', key)
  redis.call('ZREM', ns .. 'delayed_queue_schedule', ts)
end
return count
