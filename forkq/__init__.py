"""forkq: a forking Python worker that speaks Resque's Redis protocol.

    import forkq

    @forkq.job(name="Mailers::Signup", queue="mail", timeout=30)
    def signup(user_id):
        ...

    forkq.enqueue("Mailers::Signup", 42)       # what Ruby's Resque.enqueue writes

Run the jobs with `forkq work --queues mail,default --require myapp.jobs`.

The names below are imported on first use (PEP 562): an app's `import forkq` must not load
the producer's Redis layer into the fork server, whose size every job's fork pays for.
"""
import importlib

__version__ = "0.1.0"

_WHERE = {
    "forkq.api.registry": ("job", "lookup", "registered"),
    "forkq.api.enqueue": ("Producer", "connect", "dequeue", "enqueue"),
    "forkq.api.delayed": ("enqueue_at", "enqueue_in", "remove_delayed", "scheduled_at",
                          "delayed_count"),
    # what on_failure hooks and retry_on see for a child that died, or a worker that did
    "forkq.errors": ("JobTimeout", "DontPerform", "UnknownJob", "NoQueueError",
                     "RedisUnavailable", "DirtyExit", "PruneDeadWorkerDirtyExit"),
}
_MODULE = {name: module for module, names in _WHERE.items() for name in names}

__all__ = ["hooks", "__version__"] + list(_MODULE)


def __getattr__(name):
    if name == "hooks":
        return importlib.import_module("forkq.api.hooks")
    module = _MODULE.get(name)
    if module is None:
        raise AttributeError("module 'forkq' has no attribute %r" % name)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
