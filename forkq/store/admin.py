"""The operator's Redis reads: what resque-web's Overview, Working, Workers, Queues and Stats
show, for the CLI and the dashboard alike (forkq.cli, forkq.web)."""
import json

from forkq import wire
from forkq.config import (lock_prefix_from_env, namespace_from_env, redact_url,
                          redis_url_from_env)
from forkq.store.delayed_totals import delayed_due, delayed_totals
from forkq.store.failures import Failures


class Admin:
    """One connection and namespace for a command."""

    def __init__(self, redis_url=None, namespace=None):
        redis_url = redis_url or redis_url_from_env()
        namespace = namespace_from_env() if namespace is None else namespace
        from forkq.store.client import connect
        self.redis = connect(redis_url, "admin")
        self.keys = wire.Keys(namespace)
        self.failures = Failures(self.redis, self.keys)
        self.server = redact_url(redis_url)
        self.lock_prefix = lock_prefix_from_env()

    def queues(self):
        names = sorted(q.decode("utf-8", "replace") for q in self.redis.smembers(self.keys.queues))
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.llen(self.keys.queue(name))
        return list(zip(names, pipe.execute()))

    def workers(self):
        ids = sorted(w.decode("utf-8", "replace") for w in self.redis.smembers(self.keys.workers))
        if not ids:
            return []
        claims = self.redis.mget([self.keys.worker(w) for w in ids])
        started = self.redis.mget([self.keys.started(w) for w in ids])
        beats = self.redis.hgetall(self.keys.heartbeat)
        processed = self.redis.mget([self.keys.processed_by(w) for w in ids])
        failed = self.redis.mget([self.keys.failed_by(w) for w in ids])
        now = self.now()
        out = []
        for i, wid in enumerate(ids):
            host, pid, queues = wire.parse_worker_id(wid)
            row = {"id": wid, "host": host, "pid": pid, "queues": queues,
                   "state": "working" if claims[i] is not None else "idle",
                   "started": _text(started[i]), "processed": int(processed[i] or 0),
                   "failed": int(failed[i] or 0), "job": None, "queue": None, "since": None,
                   "heartbeat": None, "heartbeat_age": None}
            if claims[i] is not None:
                try:
                    claim = json.loads(claims[i])
                    payload = claim.get("payload") or {}
                    row.update(job=payload.get("class") if isinstance(payload, dict) else None,
                               queue=claim.get("queue"), since=claim.get("run_at"))
                except ValueError:
                    row["job"] = "(unreadable claim)"
            beat = beats.get(wid.encode())
            if beat:
                row["heartbeat"] = beat.decode("utf-8", "replace")
                at = wire.parse_time(row["heartbeat"])
                row["heartbeat_age"] = round(now - at) if at is not None else None
            out.append(row)
        return out

    def now(self):
        secs, _micros = self.redis.time()
        return secs

    def stats(self, queues=None, workers=None):
        queues = self.queues() if queues is None else queues
        workers = self.workers() if workers is None else workers
        get = self.redis.mget([self.keys.processed, self.keys.failed_count])
        data = {
            "pending": sum(size for _name, size in queues),
            "processed": int(get[0] or 0),
            "queues": len(queues),
            "workers": len(workers),
            "working": sum(1 for w in workers if w["state"] == "working"),
            "failed": self.failures.count(),  # what resque-web shows: LLEN failed
            "failed_counter": int(get[1] or 0),
            "servers": [self.server],
            "namespace": self.keys.prefix.rstrip(":"),
        }
        data.update(self.scheduler())
        return data

    def scheduler(self):
        """resque-scheduler's numbers (contract §12), only when its keys exist: `delayed` is
        the jobs waiting (LLEN of every delayed:<ts>), `delayed_timestamps` the members of
        delayed_queue_schedule, `scheduled` the persistent recurring schedules."""
        out = {}
        if self.redis.exists(self.keys.delayed_schedule):
            jobs, stamps = delayed_totals(self.redis, self.keys)
            out.update(delayed=jobs, delayed_timestamps=stamps)
        schedules = self.keys.key("persistent_schedules")
        if self.redis.exists(schedules):
            out["scheduled"] = self.redis.hlen(schedules)
        out.update(self.scheduling().overview(self.now()))
        return out

    def scheduling(self):
        """resque-scheduler's operator side (forkq delayed/schedule, the dashboard's tabs)."""
        from forkq.store.scheduling_admin import SchedulingAdmin
        return SchedulingAdmin(self.redis, self.keys.prefix.rstrip(":"), self.lock_prefix)

    # --- pages of lists, keys and the scheduler's numbers (forkq web, forkq metrics) ----------

    def queue_page(self, name, start, count):
        """(size, [(position, raw job)]) of a queue from `start`, the next to run first: one
        LLEN and one LRANGE, together."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.llen(self.keys.queue(name))
        pipe.lrange(self.keys.queue(name), start, start + count - 1)
        size, raws = pipe.execute()
        return size, list(enumerate(raws, start))

    def queue_known(self, name):
        return bool(self.redis.sismember(self.keys.queues, name))

    def remove_queue(self, name):
        """Resque.remove_queue: the name leaves `queues` and the list is deleted, in one step.
        → (jobs it held, whether it was registered)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.llen(self.keys.queue(name))
        pipe.srem(self.keys.queues, name)
        pipe.delete(self.keys.queue(name))
        jobs, known, _deleted = pipe.execute()
        return jobs, bool(known)

    def queue_heads_enqueued_at(self, names):
        """[(queue, epoch)] for the queues whose next job says when it was enqueued."""
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.lindex(self.keys.queue(name), 0)
        out = []
        for name, raw in zip(names, pipe.execute()):
            try:
                payload = json.loads(raw) if raw is not None else None
            except ValueError:
                continue
            at = wire.enqueued_at(payload) if isinstance(payload, dict) else None
            if at is not None:
                out.append((name, at))
        return out

    def redis_info(self):
        return self.redis.info()

    def namespace_keys(self):
        """Every key of the namespace, sorted, as {"key" (without the namespace), "type",
        "size"} (SCAN, then TYPE and the size command of each type, pipelined)."""
        return self.describe_keys(self.namespace_key_names())

    def namespace_key_names(self):
        """Every key of the namespace (full names), sorted: SCAN only, so a page of keys
        asks TYPE and size of its own hundred (describe_keys), not of every key."""
        from forkq.store.scripts import argv, load
        step = self.redis.register_script(load("scan_names"))
        names, cursor = set(), 0
        while True:
            reply = step(args=argv("scan_names", cursor=cursor, pattern=self.keys.all_pattern(),
                                   count=5000))
            cursor = int(reply[0])
            if reply[1]:
                names.update(reply[1].split(b"\n"))
            names.update(reply[2:])
            if not cursor:
                return sorted(name.decode("utf-8", "replace") for name in names)

    def describe_keys(self, names):
        """[{"key" (without the namespace), "type", "size"}] of full key `names`."""
        prefix = self.keys.prefix
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.type(name)
        types = [_text(t) for t in pipe.execute()] if names else []
        pipe = self.redis.pipeline(transaction=False)
        for name, kind in zip(names, types):
            if kind in SIZES:
                getattr(pipe, SIZES[kind])(name)
            else:
                pipe.exists(name)
        sizes = pipe.execute() if names else []
        return [{"key": name[len(prefix):], "type": kind,
                 "size": size if kind in SIZES else None}
                for name, kind, size in zip(names, types, sizes)]

    def key_page(self, key, start, count):
        """What one key (named without the namespace) holds, a page from `start`: {"key",
        "type", "size", "start", "values"}; None when there is no such key. Raises ValueError
        for a type forkq does not show."""
        name = self.keys.key(key)
        kind = _text(self.redis.type(name))
        end = start + count - 1
        r = self.redis
        if kind == "none":
            return None
        if kind == "string":
            size, values = r.strlen(name), [_text(r.get(name))]
        elif kind == "list":
            size, values = r.llen(name), [_text(v) for v in r.lrange(name, start, end)]
        elif kind == "set":
            members = sorted({_text(v) for v in r.sscan_iter(name, count=1000)})
            size, values = len(members), members[start:end + 1]
        elif kind == "zset":
            size = r.zcard(name)
            values = [[_text(m), s] for m, s in r.zrange(name, start, end, withscores=True)]
        elif kind == "hash":
            fields = sorted({_text(f): _text(v) for f, v in r.hscan_iter(name, count=1000)}.items())
            size, values = len(fields), [list(fv) for fv in fields[start:end + 1]]
        elif kind == "stream":
            entries = r.xrange(name, count=start + count)[start:]
            size = r.xlen(name)
            values = [[_text(i), {_text(k): _text(v) for k, v in f.items()}] for i, f in entries]
        else:
            raise ValueError("%s is a %s, which forkq does not show" % (key, kind))
        return {"key": key, "type": kind, "size": size, "start": start, "values": values}

    def delayed_due(self, now):
        """resque-scheduler's due backlog: {"due": delayed jobs whose time is <= now, "lag":
        seconds the oldest due one is late, 0 when none is}. (All delayed jobs: scheduler().)
        Summed in Redis a batch of timestamps at a time, as delayed_totals sums the schedule."""
        jobs, _stamps, first = delayed_due(self.redis, self.keys, now)
        return {"due": jobs, "lag": max(0, now - first) if first is not None else 0}

    def scheduler_master(self):
        """Who holds resque-scheduler's master lock ("host:pid"), or None. Its key is
        namespaced twice (contract §12): resque:resque:resque_scheduler_master_lock."""
        from forkq.wire.scheduler import master_lock_key
        return _text(self.redis.get(master_lock_key(self.keys.prefix.rstrip(":"),
                                                    self.lock_prefix)))


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


SIZES = {"string": "strlen", "list": "llen", "set": "scard", "zset": "zcard", "hash": "hlen",
         "stream": "xlen"}
