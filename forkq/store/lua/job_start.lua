-- A job with retry or unique options is about to run (the parent, after its reserve):
-- take the while_executing lock (node-resque JobLock's SET NX EX, its value the epoch it
-- expires, as node writes it); only then free the until_executing lock (node-resque
-- QueueLock's DEL before perform) and count the attempt as resque-retry's
-- before_perform_retry does (SETNX -1, INCR: the first attempt is 0).
-- ARGV: ns, attempt counter ('' = none), lock to free ('' = none), lock to hold ('' = none),
--       its ttl in seconds.
-- Returns {attempt (-1 without a counter), 1 = go on | 0 = the twin holds the lock}.
local ns, counter, free, hold, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
if hold ~= '' then
  local now = tonumber(redis.call('TIME')[1])
  if not redis.call('SET', ns .. hold, string.format('%d', now + ttl + 1), 'NX', 'EX', ttl) then
    return {-1, 0}
  end
end
if free ~= '' then redis.call('DEL', ns .. free) end
local attempt = -1
if counter ~= '' then
  redis.call('SETNX', ns .. counter, -1)
  attempt = redis.call('INCR', ns .. counter)
end
return {attempt, 1}
