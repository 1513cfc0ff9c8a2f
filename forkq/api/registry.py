"""The job registry: `@forkq.job` and the lookup the worker does for a payload's class.

Only names registered here ever run: a payload's "class" is looked up in this table and nowhere
else (never imported), so a payload naming `os.system` is an unknown job, not a call.
"""
import dataclasses
import inspect

from forkq.api import hooks as _hooks
from forkq.api.policies import RetryPolicy, UniquePolicy

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
    retry: RetryPolicy = None    # automatic retries (docs/retries.rst), or None
    unique: UniquePolicy = None  # unique-job lock, or None

    def timeout_or(self, default):
        """The job's time limit: its own, else the worker's --timeout (0: none). The one
        place it is chosen: the child's alarm and the parent's deadline must agree."""
        return self.timeout if self.timeout is not None else default




def job(fn=None, *, name=None, queue=None, timeout=None, retry=None, backoff=None,
        retry_on=None, give_up_on=None, unique=None, lock_ttl=None):
    """Register a function, or a class with a `perform` static/class method, as a job.

        @forkq.job(name="Mailers::Signup", queue="mail", timeout=30)
        def signup(user_id): ...

    `name` is the class name on the wire (default: the Python name), so a job Ruby enqueues as
    `Mailers::Signup` finds this function. The decorated object is returned unchanged, with
    `.forkq_name` set.

    `retry=N` retries a failed job up to N times (any failure: an exception, a timeout, a
    killed child, a dead worker), `backoff` seconds apart: a number, a list (one per retry,
    the last repeating) or "exponential" (the default, Sidekiq's count**4 + 15 + jitter);
    `retry_on`/`give_up_on` narrow it to exception classes. `unique="until_executing" |
    "until_executed" | "while_executing"` refuses an identical job (class, args, queue) while
    one holds the lock, which expires after `lock_ttl` seconds (3600). docs/retries.rst.
    """
    retry_policy = RetryPolicy.build(retry, backoff, retry_on, give_up_on)
    unique_policy = UniquePolicy.build(unique, lock_ttl)

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
            raise ValueError("job name %r is already registered by %s (in module %s); %s "
                             "(in module %s) cannot have it too: give one of them another "
                             "name=" % (job_name, _qualname(existing.source),
                                        _module(existing.source), _qualname(target),
                                        _module(target)))
        plain = not any(job_hooks[k] for k in ("before_perform", "around_perform",
                                               "after_perform", "on_failure"))
        _registry[job_name] = JobSpec(job_name, perform, job_queue, job_timeout, job_hooks,
                                      target, plain, retry_policy, unique_policy)
        try:
            target.forkq_name = job_name
        except (AttributeError, TypeError):
            pass
        return target

    if fn is not None:
        return register(fn)
    return register


def _qualname(obj):
    return getattr(obj, "__qualname__", None) or repr(obj)


def _module(obj):
    return getattr(obj, "__module__", None) or "?"


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
