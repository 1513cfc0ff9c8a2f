"""The operator's Redis reads: what resque-web's Overview, Working, Workers and Stats show."""
import json

from forkq import wire
from forkq.config import namespace_from_env, redact_url, redis_url_from_env
from forkq.store.delayed_totals import delayed_totals
from forkq.store.failures import Failures


class Admin:
    """One connection and namespace for a command."""

    def __init__(self, redis_url=None, namespace=None):
        redis_url = redis_url or redis_url_from_env()
        namespace = namespace_from_env() if namespace is None else namespace
        import redis
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=10)
        self.keys = wire.Keys(namespace)
        self.failures = Failures(self.redis, self.keys)
        self.server = redact_url(redis_url)

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
        from forkq.store.scheduling_admin import SchedulingAdmin
        out.update(SchedulingAdmin(self.redis, self.keys.prefix.rstrip(":")).overview(self.now()))
        return out


def _text(value):
    return value.decode("utf-8", "replace") if value is not None else None
