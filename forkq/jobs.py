"""The job registry and the Python API to define and enqueue jobs.

Only names registered here ever run: a payload's "class" is looked up in this table and nowhere
else (never imported), so a payload naming `os.system` is an unknown job, not a call.
"""
import dataclasses
import inspect
import json

from . import config as _config
from . import hooks as _hooks
from . import protocol
from .errors import NoQueueError

_registry = {}


@dataclasses.dataclass(frozen=True)
class JobSpec:
    name: str          # the Resque class name on the wire, e.g. "Mailers::Signup"
    perform: object    # callable(*args)
    queue: str         # default queue, or None
    timeout: float     # seconds, or None for the worker's --timeout
    hooks: dict        # prefix -> [callables]
    source: object     # the decorated function or class
    plain: bool = False  # no perform hooks: the child calls perform directly


def job(fn=None, *, name=None, queue=None, timeout=None):
    """Register a function, or a class with a `perform` static/class method, as a job.

        @forkq.job(name="Mailers::Signup", queue="mail", timeout=30)
        def signup(user_id): ...

    `name` is the class name on the wire (default: the Python name), so a job Ruby enqueues as
    `Mailers::Signup` finds this function. The decorated object is returned unchanged, with
    `.forkq_name` set.
    """
    def register(target):
        job_name = name or target.__name__
        if inspect.isclass(target):
            perform = getattr(target, "perform", None)
            if not callable(perform):
                raise TypeError("job class %s has no perform method" % target.__qualname__)
            job_queue = queue or getattr(target, "queue", None)
            job_timeout = timeout if timeout is not None else getattr(target, "timeout", None)
            job_hooks = _hooks.job_hooks(target)
        elif callable(target):
            perform, job_queue, job_timeout = target, queue, timeout
            job_hooks = _hooks.job_hooks(None)
        else:
            raise TypeError("forkq.job registers a function or a class, not %r" % (target,))
        if not isinstance(job_name, str) or not job_name.strip():
            raise ValueError("a job name must be a non-empty string")
        existing = _registry.get(job_name)
        if existing is not None and existing.source is not target:
            raise ValueError("job name %r is already registered by %r"
                             % (job_name, existing.source))
        plain = not any(job_hooks[k] for k in ("before_perform", "around_perform",
                                               "after_perform", "on_failure"))
        _registry[job_name] = JobSpec(job_name, perform, job_queue, job_timeout, job_hooks,
                                      target, plain)
        try:
            target.forkq_name = job_name
        except (AttributeError, TypeError):
            pass
        return target

    if fn is not None:
        return register(fn)
    return register


def lookup(name):
    """The JobSpec for a wire name, or None. Follows Ruby's constantize: a leading `::` is
    ignored and a dashed name is camelized per dash ("job-name" → "JobName")."""
    spec = _registry.get(name)
    if spec is not None:
        return spec
    stripped = name[2:] if name.startswith("::") else name
    if "-" in stripped:
        stripped = "".join(part[:1].upper() + part[1:] for part in stripped.split("-"))
    return _registry.get(stripped)


def registered():
    return sorted(_registry)


def unregister(name):
    _registry.pop(name, None)


def name_of(job_or_name):
    if isinstance(job_or_name, str):
        return job_or_name
    spec_name = getattr(job_or_name, "forkq_name", None)
    if spec_name:
        return spec_name
    raise TypeError("%r is not a registered job; decorate it with @forkq.job or pass its "
                    "name" % (job_or_name,))


# --- producers --------------------------------------------------------------------------

class Producer:
    """Enqueue and dequeue on one Redis connection and namespace, exactly as Resque does."""

    def __init__(self, connection=None, namespace=None):
        self._connection = connection
        self.keys = protocol.Keys(_config.namespace_from_env() if namespace is None
                                  else namespace)

    @property
    def redis(self):
        if self._connection is None:
            import redis
            self._connection = redis.Redis.from_url(_config.redis_url_from_env())
        return self._connection

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
        {"class","args"}, after_enqueue hooks. Returns False if a hook cancelled."""
        name, spec, queue = self._resolve(job_or_name, queue)
        hooks = spec.hooks if spec else _hooks.job_hooks(None)
        results = [hook(*args) for hook in hooks["before_enqueue"]]
        if any(r is False for r in results):
            return False
        self.push(queue, protocol.job_payload(name, args))
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
        if args:
            removed = self.redis.lrem(key, 0, protocol.job_payload(name, args))
        else:
            removed = 0
            for raw in self.redis.lrange(key, 0, -1):
                try:
                    if protocol.decode_payload(raw)["class"] == name:
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


DELAYED_BATCH = 1000  # delayed_queue_schedule members per ZRANGE call and per LLEN pipeline


def delayed_totals(redis, keys):
    """(delayed jobs, timestamps) of resque-scheduler's schedule: the LLEN of every
    delayed:<ts> a member of delayed_queue_schedule names, and how many members there are.
    Read in batches by rank, so a schedule of millions never sits in memory at once nor
    blocks Redis in one call (and, unlike ZSCAN, never counts a member twice)."""
    jobs = stamps = 0
    while True:
        batch = redis.zrange(keys.delayed_schedule, stamps, stamps + DELAYED_BATCH - 1)
        if not batch:
            return jobs, stamps
        jobs += _delayed_lengths(redis, keys, batch)
        stamps += len(batch)
        if len(batch) < DELAYED_BATCH:
            return jobs, stamps


def _delayed_lengths(redis, keys, members):
    pipe = redis.pipeline(transaction=False)
    for member in members:  # the member is the <ts> of delayed:<ts>, byte for byte
        pipe.llen(keys.prefix.encode() + b"delayed:" + member)
    return sum(pipe.execute())


_default = None


def connect(connection=None, namespace=None, url=None):
    """Set the connection module-level enqueue/dequeue use (default: REDIS_URL, `resque`)."""
    global _default
    if connection is None and url is not None:
        import redis
        connection = redis.Redis.from_url(url)
    _default = Producer(connection, namespace)
    return _default


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

