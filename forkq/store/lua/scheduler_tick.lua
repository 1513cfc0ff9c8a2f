-- One scheduler tick: resque-scheduler's master lock (contract §12) and what is due, in one
-- round trip, so an idle scheduler costs one command per tick.
--   ARGV: ns, lock key, lock value ("<host>:<pid>"), TTL seconds, batch size,
--         registry field ('' = skip), its value as master, its value as standby
-- The lock has exactly the effects of Ruby's two scripts run in turn: `acquire` (SETNX, and
-- EXPIRE when it set the key) and, when that failed, `locked` (GET; when the value is ours,
-- EXPIRE and GET again). So Ruby resque-scheduler and forkq exclude each other, and the
-- master renews the full TTL on every tick.
-- Returns {master 0/1, TIME secs, TIME usecs, holder, due <ts> or '', next <ts> ahead or '',
--          schedules_changed count (master only), items of the due <ts> (up to batch)...}
local ns, key, me = ARGV[ARG.ns], ARGV[ARG.lock], ARGV[ARG.me]
local ttl, batch = tonumber(ARGV[ARG.ttl]), tonumber(ARGV[ARG.batch])
local field = ARGV[ARG.field]
local held = 0
if redis.call('SETNX', key, me) == 1 then
  redis.call('EXPIRE', key, ttl)
  held = 1
elseif redis.call('GET', key) == me then
  redis.call('EXPIRE', key, ttl)
  if redis.call('GET', key) == me then held = 1 end
end
local holder = me
if held == 0 then holder = redis.call('GET', key) or '' end
if field ~= '' then
  redis.call('HSET', ns .. 'forkq:schedulers', field,
             held == 1 and ARGV[ARG.as_master] or ARGV[ARG.as_standby])
end
local t = redis.call('TIME')
local schedule = ns .. 'delayed_queue_schedule'
-- the first timestamp still ahead: when to look again
local ahead = redis.call('ZRANGEBYSCORE', schedule, '(' .. t[1], '+inf', 'LIMIT', 0, 1)
local earliest = ahead[1] or ''
if held == 0 then return {0, t[1], t[2], holder, '', earliest, 0} end
local changed = redis.call('SCARD', ns .. 'schedules_changed')
-- the first due timestamp that can be moved: a member that is not a number, or whose
-- delayed:<ts> is not a list, is someone else's mistake; it is passed over, not tripped on
local due = nil
for _, m in ipairs(redis.call('ZRANGEBYSCORE', schedule, '-inf', t[1], 'LIMIT', 0, 20)) do
  local kind = tonumber(m) and redis.call('TYPE', ns .. 'delayed:' .. m)['ok']
  if kind == 'list' or kind == 'none' then due = m; break end
end
if not due then return {1, t[1], t[2], holder, '', earliest, changed} end
local reply = {1, t[1], t[2], holder, due, earliest, changed}
for _, item in ipairs(redis.call('LRANGE', ns .. 'delayed:' .. due, 0, batch - 1)) do
  reply[#reply + 1] = item
end
return reply
