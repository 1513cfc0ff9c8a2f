-- A scheduler's clean exit: give up the master lock only if it is ours (Ruby runs `locked`
-- then DEL; here the check and the DEL are one step, so another's lock is never deleted),
-- and leave forkq's list of running schedulers.
--   ARGV: ns, lock key, lock value, registry field.  Returns 1 if the lock was ours.
local ns, key, me, field = ARGV[ARG.ns], ARGV[ARG.lock], ARGV[ARG.me], ARGV[ARG.field]
redis.call('HDEL', ns .. 'forkq:schedulers', field)
if redis.call('GET', key) == me then
  redis.call('DEL', key)
  return 1
end
return 0
