"""All of the worker's Redis I/O, in Resque's key layout (protocol.Keys).

The multi-step writes are Lua scripts so that each is one round trip and atomic:
  cycle      the last job's record (done_working + counters, or the failed entry, or a
             requeue; only if our claim is still there) and the next reserve: pause check, LPOP
             in queue order and the worker:<id> claim, in one step, so a job is never popped
             without a record of who holds it, and each job costs one round trip;
  heartbeat  Redis TIME → the ISO value Ruby parses, and re-registration if our keys vanished;
  release    unregister a worker (ours or a dead one), failing or requeueing its claimed job,
             only if the claim is the one the caller read.
"""
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from . import protocol

# Shared Lua helpers: JSON string quoting the way Ruby writes it (raw UTF-8, "/" unescaped).
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
"""

# One round trip per job: record the last job's outcome (done_working + counters, or the
# failed entry, or a requeue) and reserve the next one.
#   ARGV: ns, wid, run_at, finish?, failure, count_failed, requeue_queue, requeue_payload,
#         reserve?, worker name (host:pid), then the queue plan (QueuePlan.argv).
# The claim keeps Ruby's keys in Ruby's order (queue, run_at, payload) and adds "worker" as
# node-resque writes it: its allWorkingOn() lists a worker's job under that name.
# The finish part acts only if our claim is still there (DEL returned 1); a retry after a lost
# reply is sorted out by the caller comparing the claim's sha1 (Worker.recover).
_CYCLE = _LUA_JSON + r"""
local ns, wid, run_at = ARGV[1], ARGV[2], ARGV[3]
local claim_key = ns .. 'worker:' .. wid
local finished = -1
if ARGV[4] == '1' then
  finished = redis.call('DEL', claim_key)
  if finished == 1 then
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
if ARGV[9] ~= '1' then return {'none', finished} end
local paused = redis.call('GET', ns .. 'pause-all-workers')
if paused and string.lower(string.match(paused, '^%s*(.-)%s*$')) == 'true' then
  return {'paused', finished}
end
local dynamic = ARGV[11]
local queues = {}
if dynamic == '0' then
  for i = 12, #ARGV do queues[#queues + 1] = ARGV[i] end
else
  -- ARGV[12] = number of include patterns; then (lua pattern, leading-dot flag) pairs for the
  -- includes, then for the exclusions. Ruby's File.fnmatch: * never matches a leading dot.
  local n_in = tonumber(ARGV[12])
  local function matches(name, i)
    if string.sub(name, 1, 1) == '.' and ARGV[i + 1] ~= '1' then return false end
    return string.find(name, ARGV[i]) ~= nil
  end
  local members = redis.call('SMEMBERS', ns .. 'queues')
  local seen = {}
  for p = 0, n_in - 1 do
    local hits = {}
    for _, name in ipairs(members) do
      if not seen[name] and matches(name, 13 + 2 * p) then
        local excluded = false
        for x = 13 + 2 * n_in, #ARGV, 2 do
          if matches(name, x) then excluded = true; break end
        end
        if not excluded then hits[#hits + 1] = name end
      end
    end
    table.sort(hits)
    for _, name in ipairs(hits) do seen[name] = true; queues[#queues + 1] = name end
  end
end
-- With many queues, most are empty (and an empty list does not exist): find the first
-- non-empty one in order by halving with EXISTS, ~2 log2(n) calls instead of n LPOPs.
local first = 1
if #queues > 16 then
  local keys = {}
  for i, q in ipairs(queues) do keys[i] = ns .. 'queue:' .. q end
  local lo, hi = 1, #keys
  if redis.call('EXISTS', unpack(keys, lo, hi)) == 0 then
    first = #keys + 1
  else
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if redis.call('EXISTS', unpack(keys, lo, mid)) > 0 then hi = mid else lo = mid + 1 end
    end
    first = lo
  end
end
for i = first, #queues do
  local q = queues[i]
  local job = redis.call('LPOP', ns .. 'queue:' .. q)
  if job then
    local body
    local ok, decoded = pcall(cjson.decode, job)
    if ok and type(decoded) == 'table' and string.find(job, '^%s*{') then
      body = job
    else
      body = jbytes(job)  -- never leave invalid JSON where resque-web and Ruby read it
    end
    local claim = '{"queue":' .. jstr(q) .. ',"run_at":"' .. run_at .. '","payload":' .. body ..
                  ',"worker":' .. jstr(ARGV[10]) .. '}'
    redis.call('SET', claim_key, claim)
    return {'job', finished, q, job, redis.sha1hex(claim)}
  end
end
return {'idle', finished, table.concat(queues, ',')}
"""

_UNCLAIM = r"""
local ns, wid, expected_sha, queue, payload = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local claim = redis.call('GET', ns .. 'worker:' .. wid)
if not claim or redis.sha1hex(claim) ~= expected_sha then return 0 end
redis.call('SADD', ns .. 'queues', queue)
redis.call('LPUSH', ns .. 'queue:' .. queue, payload)
redis.call('DEL', ns .. 'worker:' .. wid)
return 1
"""

_HEARTBEAT = r"""
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

_RELEASE = r"""
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

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


class Reserved:
    """A job popped and claimed: its queue, its raw bytes exactly as popped, and the sha1 of
    the worker:<id> claim written for it."""
    __slots__ = ("queue", "raw", "claim_sha")

    def __init__(self, queue, raw, claim_sha):
        self.queue = queue
        self.raw = raw
        self.claim_sha = claim_sha


class Idle:
    __slots__ = ("queues",)

    def __init__(self, queues):
        self.queues = queues


PAUSED = object()


def connect(url):
    """A client for the worker: bytes in and out (payloads may be invalid UTF-8), bounded
    waits so a cut connection raises instead of hanging, keepalive for idle sockets, and no
    automatic retries: redis-py (8.x) re-sends a command whose reply was lost, which would
    run a cycle script twice. Worker.recover sorts out a lost reply from our claim instead."""
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5,
                                socket_keepalive=True, health_check_interval=0,
                                retry=Retry(NoBackoff(), 0), retry_on_timeout=False)


class QueuePlan:
    """The queue list as the reserve script takes it: static names, or Lua glob patterns."""

    def __init__(self, configured):
        self.configured = tuple(configured)
        self.dynamic = protocol.is_dynamic(self.configured)
        if not self.dynamic:
            self.argv = ("0",) + self.configured
            return
        includes = [q for q in self.configured if not q.startswith("!")]
        excludes = [q[1:] for q in self.configured if q.startswith("!")]
        args = ["1", str(len(includes))]
        for pattern in includes + excludes:
            args += [protocol.glob_to_lua(pattern), "1" if pattern.startswith(".") else "0"]
        self.argv = tuple(args)

    def static_names(self):
        return list(self.configured) if not self.dynamic else None


class Store:
    def __init__(self, url, namespace, client=None):
        self.keys = protocol.Keys(namespace)
        self.redis = client if client is not None else connect(url)
        self._cycle = self.redis.register_script(_CYCLE)
        self._heartbeat = self.redis.register_script(_HEARTBEAT)
        self._release = self.redis.register_script(_RELEASE)
        self._unclaim = self.redis.register_script(_UNCLAIM)

    # -- the hot path ----------------------------------------------------------------------
    def cycle(self, wid, run_at, record=None, plan=None):
        """Record the last job (`record` = (failure, count_failed, requeue) or None) and, with
        a `plan`, reserve the next. Returns (Reserved | Idle | PAUSED | None, finished) where
        finished is 1 (recorded), 0 (our claim was already gone) or -1 (nothing to record)."""
        args = [self.keys.prefix, wid, run_at]
        if record is None:
            args += ["0", "", "0", "", ""]
        else:
            failure, count_failed, requeue = record
            queue, payload = requeue or ("", "")
            args += ["1", failure, "1" if count_failed else "0", queue, payload]
        args += ["1", wid.rsplit(":", 1)[0]] + list(plan.argv) if plan is not None else ["0"]
        reply = self._cycle(args=args)
        kind, finished = reply[0], int(reply[1])
        if kind == b"job":
            return Reserved(reply[2].decode("utf-8", "replace"), reply[3],
                            reply[4].decode()), finished
        if kind == b"idle":
            return Idle(reply[2].decode("utf-8", "replace").split(",") if reply[2] else []), \
                finished
        if kind == b"paused":
            return PAUSED, finished
        return None, finished

    # -- registration and liveness -----------------------------------------------------------
    def heartbeat(self, wid, started=""):
        """HSET workers:heartbeat from Redis TIME; with `started`, re-registers the worker if
        its keys vanished. Returns (iso value, redis epoch, was_registered)."""
        iso, secs, registered = self._heartbeat(args=(self.keys.prefix, wid, started))
        return iso.decode(), int(secs), bool(registered)

    def clear_heartbeat(self, wid):
        self.redis.hdel(self.keys.heartbeat, wid)

    def register(self, wid, started):
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(self.keys.workers, wid)
        pipe.set(self.keys.started(wid), started)
        pipe.execute()

    def claim(self, wid):
        return self.redis.get(self.keys.worker(wid))

    def release(self, wid, expected, failure="", requeue=None):
        """Unregister `wid`, recording its claimed job (if it is still `expected`) as `failure`
        and/or requeueing it. Returns 1 (job recorded), 0 (no job) or -1 (claim changed)."""
        queue, payload = requeue if requeue else ("", "")
        return int(self._release(args=(self.keys.prefix, wid, expected or b"", failure, queue,
                                       payload)))

    def unclaim(self, wid, claim_sha, queue, payload):
        """Put a claimed job that never started back at the head of its queue, if our claim is
        still the one with this sha1 (a reserve whose reply was lost, or a stop that came
        while reserving)."""
        return self._unclaim(args=(self.keys.prefix, wid, claim_sha, queue, payload)) == 1

    # -- reads for prune and the admin commands -------------------------------------------------
    def acquire_prune_lock(self, wid, ttl):
        return bool(self.redis.set(self.keys.prune_lock, wid, ex=max(1, int(ttl)), nx=True))

    def workers(self):
        return {w.decode("utf-8", "replace") for w in self.redis.smembers(self.keys.workers)}

    def heartbeats(self):
        return {k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
                for k, v in self.redis.hgetall(self.keys.heartbeat).items()}

    def started(self, wid):
        value = self.redis.get(self.keys.started(wid))
        return value.decode("utf-8", "replace") if value else None

    def time(self):
        secs, micros = self.redis.time()
        return secs + micros / 1e6

    def push_failure(self, failure):
        self.redis.rpush(self.keys.failed, failure)


class Waker:
    """Wakes an idle worker the moment a job is announced, so a poll interval is not the
    latency. forkq's producers PUBLISH on the wake channel; where the server has keyspace
    notifications on for lists (notify-keyspace-events with K and l or A), a push by any
    producer (Ruby, node-resque, redis-cli) wakes it too. Without either, the poll still runs."""

    def __init__(self, store, plan, log):
        self.store = store
        self.plan = plan
        self.log = log
        self.pubsub = None
        self.retry_at = 0.0
        self.queue_channel = store.keys.prefix + "queue:"

    def _connect(self):
        import time
        if time.monotonic() < self.retry_at:
            return
        try:
            pubsub = self.store.redis.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(self.store.keys.wake_channel())
            pattern = self._keyspace_pattern()
            if pattern:
                pubsub.psubscribe(pattern)
            self.pubsub = pubsub
        except REDIS_DOWN:
            self.retry_at = time.monotonic() + 5.0

    def _keyspace_pattern(self):
        try:
            flags = self.store.redis.config_get("notify-keyspace-events")
        except redis.ResponseError:  # CONFIG disabled or not allowed: publish-only wake-ups
            return None
        value = next(iter(flags.values()), b"")
        value = value.decode() if isinstance(value, bytes) else value
        if "K" not in value or not ("l" in value or "A" in value):
            return None
        db = self.store.redis.connection_pool.connection_kwargs.get("db", 0)
        return "__keyspace@%d__:%s*" % (db, self.queue_channel)

    def fds(self):
        if self.pubsub is None:
            self._connect()
        conn = self.pubsub.connection if self.pubsub is not None else None
        sock = getattr(conn, "_sock", None)
        return (sock,) if sock is not None else ()

    def pending(self):
        """True if a job for one of our queues was announced since the last call."""
        if self.pubsub is None:
            return False
        woken = False
        try:
            while True:
                message = self.pubsub.get_message(timeout=0.0)
                if message is None:
                    if not self.pubsub.connection.can_read(timeout=0):
                        break
                    continue
                woken = woken or self._for_us(message)
        except REDIS_DOWN:
            self.close()
            self.retry_at = 0.0
        return woken

    def _for_us(self, message):
        if message.get("type") == "pmessage":
            channel = message["channel"].decode("utf-8", "replace")
            queue = channel.split(":", 1)[1][len(self.queue_channel):]
        else:
            queue = message["data"].decode("utf-8", "replace")
        names = self.plan.static_names()
        return names is None or queue in names

    def close(self):
        if self.pubsub is not None:
            try:
                self.pubsub.close()
            except Exception:
                pass
            self.pubsub = None
