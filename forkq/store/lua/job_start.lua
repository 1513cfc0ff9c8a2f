-- A job with retry or unique options is about to run (the parent, after its reserve):
-- take the while_executing lock (node-resque JobLock's SET NX EX; the value is the epoch it
-- expires, as node writes it, then ":" and the claim's sha1, so the same claim asking again
-- after a lost reply finds the lock its own); only then free the until_executing lock
-- (node-resque QueueLock's DEL before perform) and count the attempt as resque-retry's
-- before_perform_retry does (SETNX -1, INCR: the first attempt is 0).
-- ARGV: ns, attempt counter ('' = none), lock to free ('' = none), lock to hold ('' = none),
--       its ttl in seconds, the claim's sha1.
-- Returns {attempt (-1 without a counter), 1 = go on | 0 = the twin holds the lock}.
local ns, counter, free = ARGV[ARG.ns], ARGV[ARG.counter], ARGV[ARG.free]
local hold, ttl, token = ARGV[ARG.hold], tonumber(ARGV[ARG.ttl]), ARGV[ARG.token]
local again = false
if hold ~= '' then
  local now = tonumber(redis.call('TIME')[1])
  local value = string.format('%d', now + ttl + 1) .. ':' .. token
  if not redis.call('SET', ns .. hold, value, 'NX', 'EX', ttl) then
    local held = redis.call('GET', ns .. hold) or ''
    if token == '' or string.sub(held, -(#token + 1)) ~= ':' .. token then return {-1, 0} end
    again = true  -- our own lock: this start already ran, its reply was lost
  end
end
if free ~= '' then redis.call('DEL', ns .. free) end
local attempt = -1
if counter ~= '' then
  if again then
    attempt = tonumber(redis.call('GET', ns .. counter) or '0')
  else
    redis.call('SETNX', ns .. counter, -1)
    attempt = redis.call('INCR', ns .. counter)
  end
end
return {attempt, 1}
