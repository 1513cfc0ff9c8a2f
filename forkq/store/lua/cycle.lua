--! lib effects
-- One round trip per job: record the last job's outcome (done_working + counters, or the
-- failed entry, or a requeue) and reserve the next one.
-- ARGV: ns, wid, run_at, sha1 of the claim to record ('' = nothing to record), failure,
-- count_failed, requeue_queue, requeue_payload, the record's effects (effects.lua: retries
-- and unique locks, '' = none), reserve?, worker name (host:pid), claim number, then the
-- queue plan (QueuePlan.argv).
-- The claim keeps Ruby's keys in Ruby's order (queue, run_at, payload), adds "worker" as
-- node-resque writes it (its allWorkingOn() lists a worker's job under that name), then
-- "seq", the worker's claim number: two claims of identical jobs in one second must still
-- differ, or after a lost reply Worker.recover could not tell the new claim from the old one
-- (Ruby, resque-web and node-resque ignore keys they do not know).
-- The record acts only if the claim is still the one it is for (same sha1): never on a claim
-- made since, and a retry after a lost reply is sorted out by Worker.recover.
local ns, wid, run_at = ARGV[1], ARGV[2], ARGV[3]
local claim_key = ns .. 'worker:' .. wid
local finished = -1
-- done_working's DEL of the claim waits until we know whether a new claim replaces it: the
-- script is atomic, so nobody sees the difference, and a busy worker saves a command a job.
local function done_working()
  if finished == 1 then redis.call('DEL', claim_key) end
end
if ARGV[4] ~= '' then
  local held = redis.call('GET', claim_key)
  finished = 0
  if held and redis.sha1hex(held) == ARGV[4] then
    finished = 1
    if ARGV[7] ~= '' then
      -- back to the head of its queue (at-least-once): not processed, so no stat:processed
      redis.call('SADD', ns .. 'queues', ARGV[7])
      redis.call('LPUSH', ns .. 'queue:' .. ARGV[7], ARGV[8])
    else
      redis.call('INCRBY', ns .. 'stat:processed', 1)
      redis.call('INCRBY', ns .. 'stat:processed:' .. wid, 1)
    end
    if ARGV[5] ~= '' then
      redis.call('RPUSH', ns .. 'failed', ARGV[5])
      if ARGV[6] == '1' then
        redis.call('INCRBY', ns .. 'stat:failed', 1)
        redis.call('INCRBY', ns .. 'stat:failed:' .. wid, 1)
      end
    end
    record_effects(ns, wid, ARGV[9])
  end
end
if ARGV[10] ~= '1' then done_working(); return {'none', finished} end
local paused = redis.call('GET', ns .. 'pause-all-workers')
if paused and string.lower(string.match(paused, '^%s*(.-)%s*$')) == 'true' then
  done_working()
  return {'paused', finished}
end
local plan = 13  -- where the queue plan starts: its dynamic flag
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
                  body .. ',"worker":' .. jtext(ARGV[11]) .. ',"seq":' .. ARGV[12] .. '}'
    redis.call('SET', claim_key, claim)  -- replaces a finished claim: done_working's DEL
    return {'job', finished, q, job, redis.sha1hex(claim)}
  end
end
done_working()
return {'idle', finished, table.concat(queues, ',')}
