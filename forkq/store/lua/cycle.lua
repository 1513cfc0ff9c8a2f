--! lib effects
-- One round trip per job: record the last job's outcome (done_working + counters, or the
-- failed entry, or a requeue; and its effects, effects.lua) and reserve the next one. ARGV
-- is named in scripts.ARGS (the prologue above gives ARG.<name>).
-- Fenced: the worker sends the fence value it last saw set (ARG.fence) and a new one; a
-- request that finds another value is stale (sent before a lost reply, delivered late after
-- the worker's retry ran) or its fence is gone, and does nothing at all: {'fenced', -1, value}.
-- The claim keeps Ruby's keys in Ruby's order (queue, run_at, payload), adds "worker" as
-- node-resque writes it (its allWorkingOn() lists a worker's job under that name), then
-- "seq", the worker's claim number: two claims of identical jobs in one second must still
-- differ, or after a lost reply the ledger could not tell the new claim from the old one
-- (Ruby, resque-web and node-resque ignore keys they do not know).
-- The record acts only if the claim is still the one it is for (same sha1): never on a claim
-- made since, and a retry after a lost reply is sorted out by the worker's ledger.
local ns, wid, run_at = ARGV[ARG.ns], ARGV[ARG.wid], ARGV[ARG.run_at]
local claim_key = ns .. 'worker:' .. wid
local fence_key = claim_key .. ':fence'
-- one read for the fence, the claim and the pause flag: the hot path's command budget
local got = redis.call('MGET', fence_key, claim_key, ns .. 'pause-all-workers')
local fence, held, paused = got[1] or '', got[2], got[3]
if fence ~= ARGV[ARG.fence] then return {'fenced', -1, fence} end
-- a day: a worker's keys are released with it; one killed and pruned by a Ruby worker's
-- prune leaves this one behind, to expire (a live worker whose fence expired is fenced once)
redis.call('SET', fence_key, ARGV[ARG.next_fence], 'EX', 86400)
local finished = -1
-- done_working's DEL of the claim waits until we know whether a new claim replaces it: the
-- script is atomic, so nobody sees the difference, and a busy worker saves a command a job.
local function done_working()
  if finished == 1 then redis.call('DEL', claim_key) end
end
if ARGV[ARG.record_sha] ~= '' then
  finished = 0
  if held and redis.sha1hex(held) == ARGV[ARG.record_sha] then
    finished = 1
    write_record(ns, wid, ARGV[ARG.requeue_queue], ARGV[ARG.requeue_payload],
                 ARGV[ARG.failure], ARGV[ARG.count_failed], ARGV[ARG.effects])
  end
end
if ARGV[ARG.reserve] ~= '1' then done_working(); return {'none', finished} end
if paused and string.lower(string.match(paused, '^%s*(.-)%s*$')) == 'true' then
  done_working()
  return {'paused', finished}
end
local plan = ARG.plan  -- where the queue plan starts: its dynamic flag
local queues = {}
if ARGV[plan] == '0' then
  for i = plan + 1, #ARGV do queues[#queues + 1] = ARGV[i] end
else
  -- then the number of include patterns; then (lua pattern, leading-dot flag) pairs for the
  -- includes, then for the exclusions. Ruby's File.fnmatch: * never matches a leading dot.
  local n_in = tonumber(ARGV[plan + 1])
  local function matches(name, i)
    if string.sub(name, 1, 1) == '.' and ARGV[i + 1] ~= '1' then return false end
    return string.find(name, ARGV[i]) ~= nil
  end
  local members = redis.call('SMEMBERS', ns .. 'queues')
  local seen = {}
  for p = 0, n_in - 1 do
    local hits = {}
    for _, name in ipairs(members) do
      if not seen[name] and matches(name, plan + 2 + 2 * p) then
        local excluded = false
        for x = plan + 2 + 2 * n_in, #ARGV, 2 do
          if matches(name, x) then excluded = true; break end
        end
        if not excluded then hits[#hits + 1] = name end
      end
    end
    byte_sort(hits)
    for _, name in ipairs(hits) do seen[name] = true; queues[#queues + 1] = name end
  end
end
-- With many queues, most are empty (and an empty list does not exist): find the first
-- non-empty one in order by halving with EXISTS, ~2 log2(n) calls instead of n LPOPs.
-- unpack() returns at most ~8000 values, so the first pass asks in slices of 1000.
local first = 1
if #queues > 16 then
  first = #queues + 1
  local keys = {}
  for i, q in ipairs(queues) do keys[i] = ns .. 'queue:' .. q end
  for start = 1, #keys, 1000 do
    local lo, hi = start, math.min(start + 999, #keys)
    if redis.call('EXISTS', unpack(keys, lo, hi)) > 0 then
      while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if redis.call('EXISTS', unpack(keys, lo, mid)) > 0 then hi = mid else lo = mid + 1 end
      end
      first = lo
      break
    end
  end
end
for i = first, #queues do
  local q = queues[i]
  local job = redis.call('LPOP', ns .. 'queue:' .. q)
  if job then
    -- never leave invalid JSON where resque-web and Ruby read it: anything but a strict
    -- JSON object is kept as a string of its bytes
    local body = strict_object(job) and job or jbytes(job)
    local claim = '{"queue":' .. jtext(q) .. ',"run_at":"' .. run_at .. '","payload":' ..
                  body .. ',"worker":' .. jtext(ARGV[ARG.worker_name]) ..
                  ',"seq":' .. ARGV[ARG.seq] .. '}'
    redis.call('SET', claim_key, claim)  -- replaces a finished claim: done_working's DEL
    return {'job', finished, q, job, redis.sha1hex(claim)}
  end
end
done_working()
return {'idle', finished, table.concat(queues, ',')}
