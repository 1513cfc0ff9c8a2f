"""All of the worker's Redis I/O, in Resque's key layout (protocol.Keys).

The multi-step writes are Lua scripts (forkq.scripts), each one round trip and atomic; the
Waker turns announcements of new jobs into an early end of an idle wait.
"""
import itertools
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from . import protocol, scripts


def _unavailable(names):
    # redis>=4.5 is allowed and not every release defines every class: take those it has
    return tuple(getattr(redis.exceptions, name) for name in names
                 if hasattr(redis.exceptions, name))


# Redis cannot serve us now, but will (or another node will): back off and retry. Besides the
# connection going away or the dataset loading: a failover (the node we talk to became a
# replica: READONLY; a replica whose master is gone: MASTERDOWN), maxmemory reached (OOM
# refuses writes until memory is freed) and a cluster in the middle of changing (TRYAGAIN,
# CLUSTERDOWN). These are error replies, so without this they would end the worker.
REDIS_DOWN = _unavailable(("ConnectionError", "TimeoutError", "BusyLoadingError",
                           "ReadOnlyError", "OutOfMemoryError", "MasterDownError",
                           "TryAgainError", "ClusterDownError"))
# A node that answers READONLY was demoted; the primary is now elsewhere (a DNS name moved
# after a failover): reconnect rather than keep asking the replica on the same socket.
RECONNECT = _unavailable(("ReadOnlyError",))


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
            args += [protocol.glob_to_lua(pattern), protocol.glob_dot_flag(pattern)]
        self.argv = tuple(args)

    def static_names(self):
        return list(self.configured) if not self.dynamic else None


class Store:
    def __init__(self, url, namespace, client=None):
        self.keys = protocol.Keys(namespace)
        self.redis = client if client is not None else connect(url)
        self._cycle = self.redis.register_script(scripts.CYCLE)
        self._heartbeat = self.redis.register_script(scripts.HEARTBEAT)
        self._release = self.redis.register_script(scripts.RELEASE)
        self._unclaim = self.redis.register_script(scripts.UNCLAIM)
        self._seq = itertools.count(1)

    # -- the hot path ----------------------------------------------------------------------
    def cycle(self, wid, run_at, record=None, plan=None, claim_sha=None, seq=None):
        """Record the last job (`record` = (failure, count_failed, requeue) or None) and, with
        a `plan`, reserve the next. The record acts only on the claim whose sha1 is
        `claim_sha` (the job it is for); the new claim carries `seq`, a number its worker
        never used before (the store counts its claims unless one is given). Returns
        (Reserved | Idle | PAUSED | None, finished) where finished is 1 (recorded), 0 (that
        claim was gone: a pruner recorded the job) or -1 (nothing to record)."""
        args = [self.keys.prefix, wid, run_at]
        if record is None:
            args += ["", "", "0", "", ""]
        else:
            if not claim_sha:
                raise ValueError("a record needs the sha1 of the claim it ends")
            failure, count_failed, requeue = record
            queue, payload = requeue or ("", "")
            args += [claim_sha, failure, "1" if count_failed else "0", queue, payload]
        if plan is not None:
            seq = next(self._seq) if seq is None else seq
            # node-resque's worker name: host:pid, the id's first two parts
            args += ["1", ":".join(wid.split(":", 2)[:2]), "%d" % seq] + list(plan.argv)
        else:
            args.append("0")
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

    def reconnect(self):
        """Drop every connection: the next command connects again (and resolves the host
        name again, which a failover may have moved)."""
        self.redis.connection_pool.disconnect()

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

    def is_registered(self, wid):
        return bool(self.redis.sismember(self.keys.workers, wid))

    def recent_failures(self, count):
        """The last `count` entries of `failed`, raw."""
        return self.redis.lrange(self.keys.failed, -count, -1)

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
        self.disabled = False
        self.queue_channel = store.keys.prefix + "queue:"

    def _connect(self):
        if self.disabled or time.monotonic() < self.retry_at:
            return
        pubsub = None
        try:
            pubsub = self.store.redis.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(self.store.keys.wake_channel())
            pattern = self._keyspace_pattern()
            if pattern:
                pubsub.psubscribe(pattern)
            self.pubsub = pubsub
        except REDIS_DOWN:
            self.retry_at = time.monotonic() + 5.0
        except redis.ResponseError as exc:
            self.pubsub = pubsub
            self._refused(exc)

    def _refused(self, exc):
        # An ACL user without channel permission (Redis 7's acl-pubsub-default is
        # resetchannels): SUBSCRIBE is refused, now or on the first read of its reply.
        self.close()
        self.disabled = True
        self.log.event("warning", "no wake-ups: Redis refused the subscription (%s); idle "
                                  "workers poll every interval instead" % exc)

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
        except redis.ResponseError as exc:
            self._refused(exc)
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
