"""The Lua scripts behind Store: each multi-step write is one round trip and atomic.

  CYCLE      the last job's record (done_working + counters, or the failed entry, or a
             requeue; only if its claim is still there) and the next reserve: pause check,
             LPOP in queue order and the worker:<id> claim, in one step, so a job is never
             popped without a record of who holds it, and each job costs one round trip;
  HEARTBEAT  Redis TIME → the ISO value Ruby parses, and re-registration if our keys vanished;
  RELEASE    unregister a worker (ours or a dead one), failing or requeueing its claimed job,
             only if the claim is the one the caller read;
  UNCLAIM    put a claimed job that never started back at the head of its queue.
"""

# Shared Lua helpers: JSON string quoting the way Ruby writes it (raw UTF-8, "/" unescaped),
# and the checks that keep every claim strict JSON in valid UTF-8: resque-web answers 500 to a
# worker:<id> it cannot parse, and Redis's cjson accepts more than JSON does.
_LUA_JSON = r"""
local esc = {['"']='\\"', ['\\']='\\\\', ['\n']='\\n', ['\r']='\\r', ['\t']='\\t',
             ['\b']='\\b', ['\f']='\\f'}
local function jstr(s)
  return '"' .. s:gsub('[%z\1-\31"\\]', function(c)
    return esc[c] or string.format('\\u%04x', c:byte()) end) .. '"'
end
local function jbytes(s)  -- any bytes as a JSON string, high bytes as \u00XX (latin-1, lossless)
  return '"' .. s:gsub('[%z\1-\31"\\\128-\255]', function(c)
    return esc[c] or string.format('\\u%04x', c:byte()) end) .. '"'
end
-- UTF-8 as JSON and Ruby require it: shortest forms, no surrogates, nothing past U+10FFFF,
-- and every high byte inside a well-formed sequence.
local function utf8_ok(s)
  if not s:find('[\128-\255]') then return true end
  local _, high = s:gsub('[\128-\255]', '')
  local covered = 0
  for seq in s:gmatch('[\192-\255][\128-\191]*') do
    local lead, second, n = seq:byte(1), seq:byte(2), #seq
    if lead < 0xC2 or lead > 0xF4 then return false end
    if n ~= (lead < 0xE0 and 2 or lead < 0xF0 and 3 or 4) then return false end
    if (lead == 0xE0 and second < 0xA0) or (lead == 0xED and second > 0x9F) or
       (lead == 0xF0 and second < 0x90) or (lead == 0xF4 and second > 0x8F) then
      return false
    end
    covered = covered + n
  end
  return covered == high
end
local function jtext(s) if utf8_ok(s) then return jstr(s) end return jbytes(s) end
-- What cjson takes and JSON refuses, beyond the numbers decode_invalid_numbers(false) stops:
-- 1. and -.5, raw control characters inside strings; and, where that setting cannot be
-- changed, NaN, Infinity and hex too (`words`). Strings are cut out first: escapes, then
-- the quoted runs, so only JSON's own tokens are left to look at.
local function tokens_ok(s, words)
  if not words and not s:find('[%z\1-\31]') and not s:find('%d%.[^%d]') and
     not s:find('%d%.$') and not s:find('%-%.') then
    return true
  end
  local raw_control = false
  local bare = s:gsub('\\.', ''):gsub('"[^"]*"', function(str)
    if str:find('[%z\1-\31]') then raw_control = true end
    return '""'
  end)
  if raw_control or bare:find('%d%.[^%d]') or bare:find('%d%.$') or bare:find('%-%.') then
    return false
  end
  if words then
    for w in bare:gmatch('%a+') do
      if w ~= 'true' and w ~= 'false' and w ~= 'null' and w ~= 'e' and w ~= 'E' then
        return false
      end
    end
  end
  return true
end
-- True if `s` is one JSON object that Ruby's JSON, Python's and resque-web all read.
local function strict_object(s)
  if not s:find('^%s*{') then return false end
  local got, old = pcall(cjson.decode_invalid_numbers)
  local strict = got and pcall(cjson.decode_invalid_numbers, false)
  local ok, decoded = pcall(cjson.decode, s)
  if strict then cjson.decode_invalid_numbers(old) end
  return ok and type(decoded) == 'table' and utf8_ok(s) and tokens_ok(s, not strict)
end
-- Lua's < compares strings with strcoll, and redis-server sets LC_COLLATE from its
-- environment (systemd passes the system's LANG): queue order must be byte order whatever
-- the server's locale. Where < already is byte order (C, POSIX, C.UTF-8: upper case before
-- lower, punctuation not ignored) the plain sort is kept: it is ~5x faster.
local function byte_sort(names)
  if 'B' < 'a' and 'a-b' < 'a_' and 'a_c' < 'ab' and 'z' < '\195\169' then
    table.sort(names)
    return
  end
  local keyed = {}
  for i, s in ipairs(names) do
    local b = {}
    for j = 1, #s, 4000 do  -- string.byte returns at most ~8000 values at once
      local part = {s:byte(j, math.min(j + 3999, #s))}
      for k = 1, #part do b[j + k - 1] = part[k] end
    end
    keyed[i] = {s, b}
  end
  table.sort(keyed, function(p, q)
    local x, y = p[2], q[2]
    for i = 1, math.min(#x, #y) do
      if x[i] ~= y[i] then return x[i] < y[i] end
    end
    return #x < #y
  end)
  for i, k in ipairs(keyed) do names[i] = k[1] end
end
"""

# One round trip per job: record the last job's outcome (done_working + counters, or the
# failed entry, or a requeue) and reserve the next one.
#   ARGV: ns, wid, run_at, sha1 of the claim to record ('' = nothing to record), failure,
#         count_failed, requeue_queue, requeue_payload, reserve?, worker name (host:pid),
#         claim number, then the queue plan (QueuePlan.argv).
# The claim keeps Ruby's keys in Ruby's order (queue, run_at, payload), adds "worker" as
# node-resque writes it (its allWorkingOn() lists a worker's job under that name), then
# "seq", the worker's claim number: two claims of identical jobs in one second must still
# differ, or after a lost reply Worker.recover could not tell the new claim from the old one
# (Ruby, resque-web and node-resque ignore keys they do not know).
# The record acts only if the claim is still the one it is for (same sha1): never on a claim
# made since, and a retry after a lost reply is sorted out by Worker.recover.
CYCLE = _LUA_JSON + r"""
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
  end
end
if ARGV[9] ~= '1' then done_working(); return {'none', finished} end
local paused = redis.call('GET', ns .. 'pause-all-workers')
if paused and string.lower(string.match(paused, '^%s*(.-)%s*$')) == 'true' then
  done_working()
  return {'paused', finished}
end
local plan = 12  -- where the queue plan starts: its dynamic flag
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
                  body .. ',"worker":' .. jtext(ARGV[10]) .. ',"seq":' .. ARGV[11] .. '}'
    redis.call('SET', claim_key, claim)  -- replaces a finished claim: done_working's DEL
    return {'job', finished, q, job, redis.sha1hex(claim)}
  end
end
done_working()
return {'idle', finished, table.concat(queues, ',')}
"""

UNCLAIM = r"""
local ns, wid, expected_sha, queue, payload = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local claim = redis.call('GET', ns .. 'worker:' .. wid)
if not claim or redis.sha1hex(claim) ~= expected_sha then return 0 end
redis.call('SADD', ns .. 'queues', queue)
redis.call('LPUSH', ns .. 'queue:' .. queue, payload)
redis.call('DEL', ns .. 'worker:' .. wid)
return 1
"""

HEARTBEAT = r"""
local ns, wid, started = ARGV[1], ARGV[2], ARGV[3]
local secs = tonumber(redis.call('TIME')[1])
-- civil date from days since the epoch (proleptic Gregorian), all in UTC
local days, rem = math.floor(secs / 86400), secs % 86400
local z = days + 719468
local era = math.floor(z / 146097)
local doe = z - era * 146097
local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                        - math.floor(doe / 146096)) / 365)
local y = yoe + era * 400
local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
local mp = math.floor((5 * doy + 2) / 153)
local d = doy - math.floor((153 * mp + 2) / 5) + 1
local m = mp < 10 and mp + 3 or mp - 9
if m <= 2 then y = y + 1 end
local iso = string.format('%04d-%02d-%02dT%02d:%02d:%02d+00:00', y, m, d,
                          math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60)
redis.call('HSET', ns .. 'workers:heartbeat', wid, iso)
local registered = 1
if started ~= '' then
  registered = redis.call('SADD', ns .. 'workers', wid) == 0 and 1 or 0
  if registered == 0 then redis.call('SET', ns .. 'worker:' .. wid .. ':started', started) end
end
return {iso, secs, registered}
"""

RELEASE = r"""
local ns, wid, expected, failure, requeue_q, requeue_payload =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local current = redis.call('GET', ns .. 'worker:' .. wid) or ''
if current ~= expected then return -1 end
if current ~= '' then
  if requeue_q ~= '' then
    redis.call('SADD', ns .. 'queues', requeue_q)
    redis.call('LPUSH', ns .. 'queue:' .. requeue_q, requeue_payload)
  end
  if failure ~= '' then redis.call('RPUSH', ns .. 'failed', failure) end
end
redis.call('SREM', ns .. 'workers', wid)
redis.call('DEL', ns .. 'worker:' .. wid, ns .. 'worker:' .. wid .. ':started',
           ns .. 'stat:processed:' .. wid, ns .. 'stat:failed:' .. wid)
redis.call('HDEL', ns .. 'workers:heartbeat', wid)
return current ~= '' and 1 or 0
"""
