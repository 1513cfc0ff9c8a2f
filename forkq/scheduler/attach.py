"""`forkq work --scheduler`: the scheduler as a tick of the worker's own loop (no thread).

The worker calls `scheduler.tick()` once per pass of its loop and caps its waits at
`scheduler.next_at`; it calls `scheduler.release()` on its way out. Everything else is here.
"""
from forkq.api import registry
from forkq.scheduler.ticker import Scheduler


def default_queue(name):
    spec = registry.lookup(name)
    return spec.queue if spec else None


def attach(worker):
    """A Scheduler on the worker's own connection, logging as the worker does."""
    return Scheduler(worker.store.redis, worker.config, worker.log, default_queue,
                     worker_id=worker.id)
