"""Enqueueing and dequeueing from Python, exactly as Ruby's Resque.enqueue does."""
import contextlib
import json
import logging

from forkq import config as _config
from forkq import wire
from forkq.api import hooks as _hooks
from forkq.api.registry import lookup, name_of
from forkq.errors import NoQueueError, RedisUnavailable
from forkq.store.delayed_totals import delayed_totals
from forkq.store.retries import push_unique
from forkq.wire import retry_keys

log = logging.getLogger("forkq.enqueue")


class Producer:
    """Enqueue and dequeue on one Redis connection and namespace, exactly as Resque does."""

    def __init__(self, connection=None, namespace=None, url=None, url_source=None):
        self._connection = connection
        self._url = url
        self._url_source = url_source
        self.keys = wire.Keys(_config.namespace_from_env() if namespace is None
                                  else namespace)
        self.refused = None  # why the last enqueue was refused (a unique job's lock), or None

    @property
    def redis(self):
        if self._connection is None:
            import redis
            if self._url is None:
                self._url, self._url_source = _url_from_env()
            self._connection = redis.Redis.from_url(self._url)
        return self._connection

    @contextlib.contextmanager
    def _reaching_redis(self):
        """redis-py's connection errors as forkq's own, naming the (redacted) URL."""
        try:
            yield
        except Exception as exc:
            import redis  # loaded already: only a Redis call gets here with its errors
            if not isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
                raise
            raise RedisUnavailable("cannot reach Redis at %s (%s): %s" % (
                self._where(), self._url_source or "the connection passed in", exc)) from exc

    def _where(self):
        if self._url is not None:
            return _config.redact_url(self._url)
        kwargs = self.redis.connection_pool.connection_kwargs
        if "path" in kwargs:
            return "unix://%s" % kwargs["path"]
        return "redis://%s:%s/%s" % (kwargs.get("host"), kwargs.get("port"), kwargs.get("db"))

    def _resolve(self, job_or_name, queue):
        name = name_of(job_or_name)
        spec = lookup(name)
        queue = queue or (spec.queue if spec else None)
        if not queue:
            raise NoQueueError("Jobs must be placed onto a queue: pass queue= or give %r a "
                               "default queue" % name)
        return name, spec, queue

    def enqueue(self, job_or_name, *args, queue=None):
        """Resque.enqueue: before_enqueue hooks (any False cancels), SADD queues + RPUSH of
        {"class","args"}, after_enqueue hooks. Returns False if a hook cancelled, or if the job
        is unique (until_executing, until_executed) and an identical one (class, args, queue)
        still holds the lock: then `refused` (and the forkq.enqueue log) says why."""
        name, spec, queue = self._resolve(job_or_name, queue)
        self.refused = None
        hooks = spec.hooks if spec else _hooks.job_hooks(None)
        results = [hook(*args) for hook in hooks["before_enqueue"]]
        if any(r is False for r in results):
            return False
        with self._reaching_redis():
            payload = wire.job_payload(name, args)
            unique = spec.unique if spec else None
            if unique is not None and unique.locks_at_enqueue:
                lock = retry_keys.queue_lock_key(name, queue, list(args))
                pushed, left = push_unique(self.redis, self.keys, lock, unique.lock_ttl, queue,
                                           payload)
                if not pushed:
                    self.refused = ("not enqueued: an identical %s job is still locked (unique=%s; "
                                    "%s expires in %d s)" % (name, unique.mode,
                                                             self.keys.key(lock), left))
                    log.info("%s", self.refused)
                    return False
            else:
                self.push(queue, payload)
        for hook in hooks["after_enqueue"]:
            hook(*args)
        return True

    def push(self, queue, payload):
        """Resque.push with an already-encoded payload; wakes idle forkq workers."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(self.keys.queues, queue)
        pipe.rpush(self.keys.queue(queue), payload)
        pipe.publish(self.keys.wake_channel(), queue)
        pipe.execute()

    def dequeue(self, job_or_name, *args, queue=None):
        """Resque.dequeue: with args, LREM of the exact {"class","args"} bytes; without, every
        job of that class. Returns how many entries went."""
        name, spec, queue = self._resolve(job_or_name, queue)
        hooks = spec.hooks if spec else _hooks.job_hooks(None)
        results = [hook(*args) for hook in hooks["before_dequeue"]]
        if any(r is False for r in results):
            return 0
        key = self.keys.queue(queue)
        with self._reaching_redis():
            if args:
                removed = self.redis.lrem(key, 0, wire.job_payload(name, args))
            else:
                removed = 0
                for raw in self.redis.lrange(key, 0, -1):
                    try:
                        if wire.decode_payload(raw)["class"] == name:
                            removed += self.redis.lrem(key, 0, raw)
                    except ValueError:
                        continue
        for hook in hooks["after_dequeue"]:
            hook(*args)
        return removed

    def size(self, queue):
        return self.redis.llen(self.keys.queue(queue))

    def delayed(self, start=0, stop=-1):
        """resque-scheduler's delayed jobs, read only: [(epoch seconds, [payload dicts])] in
        time order, from delayed_queue_schedule and delayed:<ts> (node-resque's enqueueAt and
        Ruby's enqueue_at write this layout). Entries that are not JSON come back as text."""
        out = []
        for stamp in self.redis.zrange(self.keys.delayed_schedule, start, stop):
            stamp = int(stamp)
            items = []
            for raw in self.redis.lrange(self.keys.delayed(stamp), 0, -1):
                try:
                    items.append(json.loads(raw))
                except ValueError:
                    items.append(raw.decode("utf-8", "backslashreplace"))
            out.append((stamp, items))
        return out

    def delayed_count(self):
        """Delayed jobs waiting (not timestamps: several jobs can share one)."""
        return delayed_totals(self.redis, self.keys)[0]


_default = None


def connect(connection=None, namespace=None, url=None):
    """Set the connection module-level enqueue/dequeue use (default: REDIS_URL, `resque`)."""
    global _default
    _default = Producer(connection, namespace, url, "from forkq.connect(url=...)" if url else None)
    return _default


def _url_from_env():
    """(url, where from), as the worker finds it: FORKQ_REDIS_URL_FILE, FORKQ_REDIS_URL,
    REDIS_URL, else the default."""
    url, source = _config.redis_url_and_source()
    if source == "default":
        return url, "the default: set REDIS_URL or call forkq.connect()"
    return url, "from " + source


def _producer(connection, namespace):
    if connection is not None or namespace is not None:
        return Producer(connection, namespace)
    global _default
    if _default is None:
        _default = Producer()
    return _default


def enqueue(job_or_name, *args, queue=None, connection=None, namespace=None):
    """Enqueue a job as Ruby's Resque.enqueue would. `job_or_name` is a registered job or any
    Resque class name (a job a Ruby worker performs, say)."""
    return _producer(connection, namespace).enqueue(job_or_name, *args, queue=queue)


def dequeue(job_or_name, *args, queue=None, connection=None, namespace=None):
    return _producer(connection, namespace).dequeue(job_or_name, *args, queue=queue)
