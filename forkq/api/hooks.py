"""Resque's hook points in Python form.

Worker hooks are functions registered on forkq (`@forkq.hooks.before_fork`); several per name
run in registration order. Job hooks are methods of a job class whose names start with
before_perform, around_perform, after_perform, on_failure, before_enqueue, after_enqueue,
before_dequeue or after_dequeue (and resque-scheduler's before_schedule and after_schedule);
each kind runs sorted by name, as Resque's Plugin does.
"""
import functools

from forkq.errors import DontPerform

WORKER_HOOKS = ("before_first_fork", "before_fork", "after_fork", "before_pause",
                "after_pause", "queue_empty", "worker_exit", "shutdown")

JOB_HOOK_PREFIXES = ("before_perform", "around_perform", "after_perform", "on_failure",
                     "before_enqueue", "after_enqueue", "before_dequeue", "after_dequeue",
                     "before_schedule", "after_schedule")  # the last two: resque-scheduler's

_registered = {name: [] for name in WORKER_HOOKS}


def _registrar(hook_name):
    def register(fn):
        _registered[hook_name].append(fn)
        return fn
    register.__name__ = hook_name
    register.__doc__ = "Register a %s worker hook (decorator)." % hook_name
    return register


before_first_fork = _registrar("before_first_fork")
before_fork = _registrar("before_fork")
after_fork = _registrar("after_fork")
before_pause = _registrar("before_pause")
after_pause = _registrar("after_pause")
queue_empty = _registrar("queue_empty")
worker_exit = _registrar("worker_exit")
shutdown = _registrar("shutdown")


def run(hook_name, *args):
    """Run a worker hook's functions in order; exceptions reach the caller."""
    for fn in _registered[hook_name]:
        fn(*args)


def registered(hook_name):
    """Is any function registered for this worker hook?"""
    return bool(_registered[hook_name])


def clear():
    for fns in _registered.values():
        del fns[:]


def job_hooks(cls):
    """{prefix: [bound callables sorted by name]} for a job class (empty for a function)."""
    found = {prefix: [] for prefix in JOB_HOOK_PREFIXES}
    if cls is None:
        return found
    for attr in sorted(dir(cls)):
        for prefix in JOB_HOOK_PREFIXES:
            if attr.startswith(prefix):
                found[prefix].append(getattr(cls, attr))
                break
    return found


def perform(spec, args):
    """Run one job with its hooks, Resque's way. Returns False when a before_perform hook raised
    DontPerform (skipped, not failed); raises whatever the job or a hook raised, after the
    on_failure hooks ran."""
    hooks = spec.hooks
    if spec.plain:
        spec.perform(*args)
        return True
    try:
        try:
            for hook in hooks["before_perform"]:
                hook(*args)
        except DontPerform:
            return False
        call = functools.partial(spec.perform, *args)
        for around in reversed(hooks["around_perform"]):
            call = functools.partial(_around, around, call, args)
        call()
        for hook in hooks["after_perform"]:
            hook(*args)
        return True
    except BaseException as exc:
        for hook in hooks["on_failure"]:
            hook(exc, *args)
        raise


def _around(hook, inner, args):
    # An around hook receives the job's args and a callable that runs the rest; if it never
    # calls it, perform does not run (Resque: the block is not yielded to).
    return hook(inner, *args)
