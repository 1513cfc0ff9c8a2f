"""The worker's own Redis I/O, in Resque's key layout (wire.Keys): the cycle (record the last
job and reserve the next, one round trip), heartbeats, registration, release and the reads
prune needs. The multi-step writes are the Lua scripts of lua/, each atomic."""
import itertools

from redis.exceptions import NoScriptError

from forkq import wire
from forkq.store import scripts
from forkq.store.client import connect
from forkq.store.plan import PAUSED, Idle, Reserved


class Fenced:
    """A cycle that did nothing: Redis holds another fence value than the worker sent."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Store:
    def __init__(self, url, namespace, client=None):
        self.keys = wire.Keys(namespace)
        self.redis = client if client is not None else connect(url, "worker")
        self._cycle = self.redis.register_script(scripts.CYCLE)
        self._heartbeat = self.redis.register_script(scripts.HEARTBEAT)
        self._release = self.redis.register_script(scripts.RELEASE)
        self._unclaim = self.redis.register_script(scripts.UNCLAIM)
        self._supersede = self.redis.register_script(scripts.SUPERSEDE)
        self._seq = itertools.count(1)
        self._conn = None  # the connection the cycle keeps (see _run_cycle)

    # -- the hot path ----------------------------------------------------------------------
    def cycle(self, wid, run_at, record=None, plan=None, claim_sha=None, seq=None,
              fence=("", "")):
        """Record the last job (`record` = (failure, count_failed, requeue[, effects]) or
        None; effects: the JSON of lua/effects.lua for retries and unique locks) and, with
        a `plan`, reserve the next. The record acts only on the claim whose sha1 is
        `claim_sha` (the job it is for); the new claim carries `seq`, a number its worker
        never used before (the store counts its claims unless one is given). `fence` is
        (the fence value last seen, the next one): if Redis holds another, nothing happens
        and the answer is (Fenced(value), -1). Returns (Reserved | Idle | PAUSED | None |
        Fenced, finished) where finished is 1 (recorded), 0 (that claim was gone: a pruner
        recorded the job) or -1 (nothing to record)."""
        values = {"ns": self.keys.prefix, "wid": wid, "run_at": run_at,
                  "fence": fence[0], "next_fence": fence[1], "reserve": "0"}
        if record is not None:
            if not claim_sha:
                raise ValueError("a record needs the sha1 of the claim it ends")
            failure, count_failed, requeue = record[:3]
            effects = record[3] if len(record) > 3 else ""
            queue, payload = requeue or ("", "")
            values.update(record_sha=claim_sha, failure=failure,
                          count_failed="1" if count_failed else "0",
                          requeue_queue=queue, requeue_payload=payload, effects=effects)
        rest = ()
        if plan is not None:
            seq = next(self._seq) if seq is None else seq
            # node-resque's worker name: host:pid, the id's first two parts
            values.update(reserve="1", worker_name=":".join(wid.split(":", 2)[:2]),
                          seq="%d" % seq)
            rest = plan.argv
        reply = self._run_cycle(scripts.argv("cycle", rest, **values))
        kind, finished = reply[0], int(reply[1])
        if kind == b"job":
            return Reserved(reply[2].decode("utf-8", "replace"), reply[3],
                            reply[4].decode()), finished
        if kind == b"idle":
            return Idle(reply[2].decode("utf-8", "replace").split(",") if reply[2] else []), \
                finished
        if kind == b"paused":
            return PAUSED, finished
        if kind == b"fenced":
            return Fenced(reply[2].decode("utf-8", "replace")), finished
        return None, finished

    def _run_cycle(self, args):
        """EVALSHA of the cycle script on a connection the cycle keeps, packed here. It is the
        one call a job makes; redis-py's generic path (pool checkout with a readiness poll,
        retry wrapper, packing, response callbacks) was ~40 % of the worker's CPU with a
        child that takes many jobs (py-spy). redis-py still connects, reads and raises; a
        failure drops the connection (a half-read reply must not meet the next command), and
        NOSCRIPT goes through redis-py's Script, which loads the script first."""
        conn = self._conn
        if conn is None:
            conn = self._conn = self.redis.connection_pool.get_connection()
        try:
            conn.send_packed_command([_pack(("EVALSHA", self._cycle.sha, "0") + tuple(args))])
            return conn.read_response()
        except NoScriptError:
            return self._cycle(args=args)
        except BaseException:
            self._drop_cycle_connection()
            raise

    def _drop_cycle_connection(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.disconnect()
            self.redis.connection_pool.release(conn)

    # -- registration and liveness -----------------------------------------------------------
    def heartbeat(self, wid, started="", stamp=""):
        """HSET workers:heartbeat from Redis TIME; with `started`, re-registers the worker if
        its keys vanished (with `stamp`, its process's start stamp: proc/pidstart.py).
        Returns (iso value, redis epoch, was_registered)."""
        self.follow_master()
        iso, secs, registered = self._heartbeat(args=scripts.argv(
            "heartbeat", ns=self.keys.prefix, wid=wid, started=started, stamp=stamp))
        return iso.decode(), int(secs), bool(registered)

    def follow_master(self):
        """With Sentinel: ask the sentinels which node is the master; if it moved (a planned
        failover leaves the old master answering as one for ~10 s), drop our idle
        connections so the next command goes to the new one. Sentinels that cannot answer
        change nothing: the master may well be fine."""
        pool = self.redis.connection_pool
        if not getattr(pool, "is_master", False) or not hasattr(pool, "get_master_address"):
            return
        before = getattr(pool, "master_address", None)
        try:
            pool.get_master_address()
        except Exception:  # noqa: BLE001 - MasterNotFoundError, a sentinel timing out
            return
        if getattr(pool, "master_address", None) != before:
            self._drop_cycle_connection()  # the pool drops only its idle ones

    def clear_heartbeat(self, wid):
        self.redis.hdel(self.keys.heartbeat, wid)

    def register(self, wid, started, stamp=""):
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(self.keys.workers, wid)
        pipe.set(self.keys.started(wid), started)
        if stamp:
            pipe.set(self.keys.pidstart(wid), stamp)
        pipe.execute()

    def claim(self, wid):
        return self.redis.get(self.keys.worker(wid))

    def fence(self, wid):
        value = self.redis.get(self.keys.worker(wid) + ":fence")
        return value.decode("utf-8", "replace") if value is not None else ""

    def bound(self, seconds):
        """Wait at most `seconds` for a connection or a reply from now on: the loop's ticks
        must not block past its next deadline whatever Redis does (a stall, a partition)."""
        pool = self.redis.connection_pool
        pool.connection_kwargs["socket_timeout"] = seconds
        pool.connection_kwargs["socket_connect_timeout"] = seconds
        conns = list(getattr(pool, "_available_connections", ())) + \
            list(getattr(pool, "_in_use_connections", ()))
        for conn in conns:
            conn.socket_timeout = conn.socket_connect_timeout = seconds
            sock = getattr(conn, "_sock", None)
            if sock is not None:
                sock.settimeout(seconds)
            if hasattr(conn, "update_parser_timeout"):  # hiredis keeps a copy
                conn.update_parser_timeout(seconds)

    def reconnect(self):
        """Drop every connection: the next command connects again (and resolves the host
        name again, which a failover may have moved)."""
        self._drop_cycle_connection()
        self.redis.connection_pool.disconnect()

    def release(self, wid, expected, failure="", requeue=None, effects="", memo_ttl=None):
        """Unregister `wid`, recording its claimed job (if it is still `expected`) as `failure`
        and/or requeueing it, with `effects` (lua/effects.lua: a pruned job's retry). With
        `memo_ttl` (a prune's record), the failure is also kept that many seconds for
        supersede(). Returns 1 (job recorded), 0 (no job) or -1 (claim changed)."""
        queue, payload = requeue if requeue else ("", "")
        return int(self._release(args=scripts.argv(
            "release", ns=self.keys.prefix, wid=wid, expected=expected or b"", failure=failure,
            requeue_queue=queue, requeue_payload=payload, effects=effects,
            memo_ttl="%d" % memo_ttl if memo_ttl else "")))

    def supersede(self, wid, claim_sha, record):
        """A record (Store.cycle's `record`) that found its claim gone: if a prune failed that
        claim, put this record in the prune's place, atomically. True if it did."""
        failure, count_failed, requeue = record[:3]
        effects = record[3] if len(record) > 3 else ""
        queue, payload = requeue or ("", "")
        return self._supersede(args=scripts.argv(
            "supersede", ns=self.keys.prefix, wid=wid, claim_sha=claim_sha, failure=failure,
            count_failed="1" if count_failed else "0", requeue_queue=queue,
            requeue_payload=payload, effects=effects)) == 1

    def pidstart(self, wid):
        value = self.redis.get(self.keys.pidstart(wid))
        return value.decode("ascii", "replace") if value else None

    def uptime(self):
        """Seconds the Redis server has been running (INFO server)."""
        return int(self.redis.info("server").get("uptime_in_seconds", 0))

    def unclaim(self, wid, claim_sha, queue, payload):
        """Put a claimed job that never started back at the head of its queue, if our claim is
        still the one with this sha1 (a reserve whose reply was lost, or a stop that came
        while reserving)."""
        return self._unclaim(args=scripts.argv("unclaim", ns=self.keys.prefix, wid=wid,
                                               claim_sha=claim_sha, queue=queue,
                                               payload=payload)) == 1

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


def _pack(parts):
    """A command in RESP: bytes as they are, anything else as its UTF-8 text."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        if not isinstance(part, bytes):
            part = (part if isinstance(part, str) else str(part)).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)
