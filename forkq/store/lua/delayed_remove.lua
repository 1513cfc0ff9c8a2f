-- remove_delayed: resque-scheduler's remove_delayed_job as one atomic step. For every
-- "delayed:<ts>" in timestamps:<item>: LREM the exact item bytes, SREM the member. The zset
-- keeps <ts> (as in Ruby: the scheduler drops emptied timestamps on its next pass).
--   ARGV: ns, item (exact bytes).  Returns the number of items removed.
local ns, item = ARGV[1], ARGV[2]
local set = ns .. 'timestamps:' .. item
local removed = 0
for _, key in ipairs(redis.call('SMEMBERS', set)) do
  removed = removed + redis.call('LREM', ns .. key, 0, item)
  redis.call('SREM', set, key)
end
return removed
