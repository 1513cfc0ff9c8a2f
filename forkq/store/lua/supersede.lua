--! effects
-- A worker that was pruned while alive ends its job with the job's true record in place of
-- the failure the prune wrote: one record per job, the one that happened.
-- ARGV: ns, wid, sha1 of the claim the job ran under, failure, count_failed, requeue queue,
-- requeue payload, the record's effects: the same record cycle.lua writes (write_record,
-- effects.lua).
-- Returns 1 (replaced), 0 (no prune record of that claim is left: nothing is written, since
-- the job already has its one record, or an operator already acted on it).
local ns, wid, sha = ARGV[ARG.ns], ARGV[ARG.wid], ARGV[ARG.claim_sha]
local queue, failure = ARGV[ARG.requeue_queue], ARGV[ARG.failure]
local memo = ns .. 'forkq:pruned:' .. sha
local entry = redis.call('GET', memo)
if not entry then return 0 end
redis.call('DEL', memo)
if redis.call('LREM', ns .. 'failed', -1, entry) == 0 then return 0 end
write_record(ns, wid, queue, ARGV[ARG.requeue_payload], failure, ARGV[ARG.count_failed],
             ARGV[ARG.effects])
return 1
