-- Move one batch of due delayed jobs to their queues, with exactly the effects of
-- resque-scheduler's WATCH/MULTI batch (contract §12): per item SREM timestamps:<item>
-- delayed:<ts>, SADD queues + RPUSH queue:<q> of the fresh {"class","args"}; then LTRIM the
-- batch off delayed:<ts>, and DEL it + ZREM the timestamp once it is empty.
--   ARGV: ns, lock key ('' = an operator's move: no fencing, due or not), lock value, <ts>,
--         batch size, wake channel, n, then n triples (from ARG.moves on): item (exact bytes
--         as read), queue, payload. An empty queue means the payload is a failed entry: the
--         item could not be moved (RPUSH failed).
-- The batch acts only if delayed:<ts> still starts with exactly those n items (Ruby's WATCH:
-- anyone who moved or removed one since the read makes this a no-op, so an item is moved
-- once, never twice, never lost), only while the caller still holds the master lock, and
-- only if <ts> is due by Redis's clock.
-- Returns {'moved' | 'changed' | 'lost' | 'early', TIME secs, TIME usecs,
--          next due <ts> or '', next <ts> ahead or '', items of the next due <ts>...}
local ns, key, me, ts = ARGV[ARG.ns], ARGV[ARG.lock], ARGV[ARG.me], ARGV[ARG.ts]
local batch, channel, n = tonumber(ARGV[ARG.batch]), ARGV[ARG.channel], tonumber(ARGV[ARG.n])
-- the i-th move's item; its queue and payload follow it
local function move_at(i) return ARG.moves + 3 * (i - 1) end
local t = redis.call('TIME')
local now = tonumber(t[1])
if tonumber(ts) == nil then return {'early', t[1], t[2]} end
if key ~= '' then  -- a scheduler's move; '' is an operator's `forkq delayed enqueue-now`
  if redis.call('GET', key) ~= me then return {'lost', t[1], t[2]} end
  if tonumber(ts) > now then return {'early', t[1], t[2]} end
end
local list = ns .. 'delayed:' .. ts
local schedule = ns .. 'delayed_queue_schedule'
local status = 'moved'
if n > 0 then
  local head = redis.call('LRANGE', list, 0, n - 1)
  if #head ~= n then status = 'changed' end
  for i = 1, #head do
    if head[i] ~= ARGV[move_at(i)] then status = 'changed'; break end
  end
end
if status == 'moved' and n > 0 then
  local woken = {}
  for i = 1, n do
    local at = move_at(i)
    local item, queue, payload = ARGV[at], ARGV[at + 1], ARGV[at + 2]
    redis.call('SREM', ns .. 'timestamps:' .. item, 'delayed:' .. ts)
    if queue ~= '' then
      redis.call('SADD', ns .. 'queues', queue)
      redis.call('RPUSH', ns .. 'queue:' .. queue, payload)
      woken[queue] = true
    else
      redis.call('RPUSH', ns .. 'failed', payload)
    end
  end
  redis.call('LTRIM', list, n, -1)
  if channel ~= '' then
    for queue in pairs(woken) do redis.call('PUBLISH', channel, queue) end
  end
end
if status == 'moved' and redis.call('LLEN', list) == 0 then
  redis.call('DEL', list)
  redis.call('ZREM', schedule, ts)
end
-- what comes next (as the tick script picks it), so the next batch needs no extra read
local ahead = redis.call('ZRANGEBYSCORE', schedule, '(' .. t[1], '+inf', 'LIMIT', 0, 1)
local due = nil
for _, m in ipairs(redis.call('ZRANGEBYSCORE', schedule, '-inf', now, 'LIMIT', 0, 20)) do
  local kind = tonumber(m) and redis.call('TYPE', ns .. 'delayed:' .. m)['ok']
  if kind == 'list' or kind == 'none' then due = m; break end
end
local reply = {status, t[1], t[2], due or '', ahead[1] or ''}
if due then
  for _, item in ipairs(redis.call('LRANGE', ns .. 'delayed:' .. due, 0, batch - 1)) do
    reply[#reply + 1] = item
  end
end
return reply
