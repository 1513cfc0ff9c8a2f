"""Heartbeat and prune: ticks of the loop, on a Redis connection of their own whose every wait
is bounded by the loop's next deadline (and by TICK_CAP), so a stalled or partitioned Redis
never holds up a job's timeout or the worker's own signals. A tick that fails is tried again
soon; the loop's own Redis calls do the backing off."""
import os
import time

import redis

from forkq.proc import pidstart
from forkq.store.client import REDIS_DOWN
from forkq.worker import prune

TICK_CAP = 2.0      # the longest a tick waits for Redis: how late a signal may be acted on
TICK_FLOOR = 0.05   # a deadline nearer than this: the tick waits for the next pass


class Beat:
    def __init__(self, store, worker_id, hostname, started, config, log):
        self.store = store
        self.id = worker_id
        self.hostname = hostname
        self.started = started
        self.config = config
        self.log = log
        self.next_at = 0.0
        # A request whose reply we stopped waiting for may still run in Redis, even after a
        # later command on the main connection (Redis serves sockets in fd order): the way
        # out releases us once more when there was one (Stopping.unregister).
        self.abandoned = False
        self.stamp = pidstart.stamp(os.getpid())  # liveness by kernel start time, not clocks
        self.sight = prune.Sight(config.heartbeat_interval)  # may heartbeat age be judged?
        store.bound(TICK_CAP)

    def tick(self, now, deadline, register):
        """Heartbeat (and prune) if due, waiting for Redis at most until `deadline`."""
        if now < self.next_at:
            return
        bound = min(TICK_CAP, deadline - now)
        if bound < TICK_FLOOR:
            return
        self.store.bound(bound)
        try:
            self.beat(register)
            self.prune()
        except REDIS_DOWN as exc:
            self.next_at = time.monotonic() + min(5.0, self.config.heartbeat_interval)
            self.log.event("redis_down", "heartbeat failed: %s" % exc)
        except redis.ResponseError as exc:  # not worth ending the worker (and its job) for
            self.next_at = time.monotonic() + min(5.0, self.config.heartbeat_interval)
            self.log.event("error", "heartbeat failed: %r" % exc)

    def beat(self, register):
        """One heartbeat (one try: callers decide whether to back off or carry on)."""
        try:
            _iso, _now, was_registered = self.store.heartbeat(
                self.id, self.started if register else "", self.stamp)
        except REDIS_DOWN:
            self.abandoned = True
            raise
        self.sight.beat()
        self.next_at = time.monotonic() + self.config.heartbeat_interval
        if register and not was_registered:
            self.log.event("warning", "worker keys were missing from Redis; registered again")

    def prune(self):
        try:
            prune.prune_dead_workers(self.store, self.hostname, self.id, self.config, self.log,
                                     self.sight)
        except REDIS_DOWN:
            self.abandoned = True
            raise
        except Exception as exc:  # a bad record in Redis must not stop this worker
            self.log.event("error", "prune failed: %r" % exc)

    def close(self):
        try:
            self.store.redis.close()
        except Exception:
            pass
