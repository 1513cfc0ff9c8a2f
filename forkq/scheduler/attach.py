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
    """A Scheduler on the connection of the worker's ticks (heartbeat, prune), whose waits
    are bounded by the loop's next deadline: a stalled Redis must not hold the loop in a
    scheduler tick. A move whose reply is lost is safe to try again (it acts only on the items
    it read, under the lock). Logs as the worker does."""
    return Scheduler(worker.beat.store.redis, worker.config, worker.log, default_queue,
                     worker_id=worker.id)
