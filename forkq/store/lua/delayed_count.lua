-- Count resque-scheduler's delayed jobs one batch of timestamps at a time, inside Redis: the
-- LLEN of each delayed:<ts> costs a call here instead of a reply to parse (10,000 timestamps
-- are ~75 ms of client work pipelined, ~5 ms of Redis here), and a batch keeps Redis free
-- between calls.
--   KEYS: delayed_queue_schedule.
--   ARGV: ns, max ('' = every timestamp, by rank; else a Redis second: only those due by
--         it, by score), start (rank, or offset into the due ones), count.
-- Returns {timestamps read, jobs at them, score of the first one read or ''}.
local ns, max = ARGV[ARG.ns], ARGV[ARG.max]
local start, count = tonumber(ARGV[ARG.start]), tonumber(ARGV[ARG.count])
local members
if max == '' then
  members = redis.call('ZRANGE', KEYS[1], start, start + count - 1, 'WITHSCORES')
else
  members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', max, 'WITHSCORES', 'LIMIT', start,
                       count)
end
local jobs = 0
for i = 1, #members, 2 do
  jobs = jobs + redis.call('LLEN', ns .. 'delayed:' .. members[i])
end
return {#members / 2, jobs, members[2] or ''}
