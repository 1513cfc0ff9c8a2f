"""The scheduler as one call per loop pass: `tick()` does what is due (take or renew the
master lock, move due delayed jobs, fire recurring schedules) and returns the monotonic time
it wants to be called again. `forkq scheduler` loops on it; `forkq work --scheduler` calls it
from the worker's own loop (no thread).

All decisions use Redis's TIME, read in the same scripts that act on it, so a host whose
clock is off by an hour moves nothing early. The next tick is aimed just past the next whole
Redis second (delayed timestamps and cron slots are whole seconds), so a due job waits
milliseconds, not an interval, while an idle scheduler sends one command per interval.
"""
import json
import math
import os
import socket
import time
import traceback

from forkq.scheduler.lock import Role
from forkq.scheduler.mover import Mover
from forkq.scheduler.recurring import Recurring
from forkq.store.client import REDIS_DOWN
from forkq.store.scheduling import SchedulerStore

PAST_SECOND = 0.003      # aim this far past a whole Redis second
REGISTRY_EVERY = 10.0    # seconds between refreshes of forkq:schedulers
# Missed recurring fires at most this much older than the lock period still fire: a new
# master takes over up to --lock-timeout (plus a tick) after the old one's last fire.
CATCH_UP = 60
ERROR_BACKOFF = 5.0      # seconds before a tick that failed for an unknown reason is retried


class Scheduler:
    def __init__(self, redis, config, log, default_queue=None, worker_id=None,
                 on_role=None):
        self.config = config
        self.log = log
        self.store = SchedulerStore(redis, config.namespace, config.lock_prefix)
        self.role = Role(os.getpid())
        self.me = self.role.value
        self.interval = config.scheduler_interval
        self.mover = Mover(self.store, self.me, config.delayed_batch_size, default_queue, log)
        self.recurring = Recurring(self.store, self.me, config.lock_timeout + CATCH_UP,
                                   default_queue, log)
        self.worker_id = worker_id
        self.on_role = on_role          # callback(role) when master/standby changes
        self.started = None
        self.next_at = 0.0
        self.next_registry = 0.0
        self.next_prune = 0.0
        self.redis_offset = None        # Redis TIME minus time.monotonic(), last seen
        self.down_since = None

    # -- the one call -----------------------------------------------------------------------
    def tick(self, mono=None):
        mono = time.monotonic() if mono is None else mono
        if mono < self.next_at:
            return self.next_at
        try:
            self.next_at = self._tick(mono)
            if self.down_since is not None:
                self.log.event("redis_up", "scheduler reaches Redis again")
                self.down_since = None
        except REDIS_DOWN as exc:
            if self.down_since is None:
                self.down_since = mono
                self.log.event("redis_down", "scheduler: %s" % exc)
            self.next_at = time.monotonic() + min(self.interval, 1.0)
        except Exception as exc:  # a bug, or data no one should have written: the loop
            # (a worker's, with --scheduler) must go on; say it and look again later
            self.log.event("error", "scheduler tick failed: %r" % exc,
                           traceback=traceback.format_exc())
            self.next_at = time.monotonic() + max(self.interval, ERROR_BACKOFF)
        return self.next_at

    def _tick(self, mono):
        # (its heartbeat is Redis's time: known from the second tick on)
        registry = mono >= self.next_registry and self.redis_offset is not None
        fields = self._registry_values() if registry else ("", "", "")
        t = self.store.tick(self.me, self.config.lock_timeout, self.config.delayed_batch_size,
                            *fields)
        mono = time.monotonic()
        self.redis_offset = t.now - mono
        if registry:
            self.next_registry = mono + REGISTRY_EVERY
        if self.started is None:
            self.started = int(t.now)
        if self.role.update(t.master, t.holder):
            self._role_changed(t.now)
            self.next_registry = 0.0  # say the new role at once
        if not t.master:
            return self._aim(t.now, None)
        now = t.now
        if mono >= self.next_prune:  # entries of schedulers that died without a goodbye
            self.store.prune_registry(now, REGISTRY_EVERY * 6)
            self.next_prune = mono + REGISTRY_EVERY * 6
        if t.changed:
            self.recurring.apply_changes(t.changed, now)
        more = False
        earliest = t.earliest
        if t.due is not None:
            more, earliest, now, lost = self.mover.drain(t.due, t.items, now)
            if lost:
                return time.monotonic()  # the next tick finds out who holds the lock
        if not self.recurring.fire_due(now):
            return time.monotonic()
        if more:
            return time.monotonic()
        targets = [s for s in (earliest, self.recurring.next_due()) if s is not None]
        return self._aim(now, min(targets) if targets else None)

    def _aim(self, now, due):
        """The monotonic time of the next tick: just past the whole Redis second one interval
        ahead, or past `due` (a whole Redis second) when that is sooner."""
        target = math.floor(now + self.interval) + PAST_SECOND if self.interval >= 1 \
            else now + self.interval
        if due is not None and due + PAST_SECOND < target:
            target = max(due + PAST_SECOND, now)
        return time.monotonic() + max(0.0, target - now)

    def _role_changed(self, now):
        if self.role.master:
            self.log.event("master", "scheduler %s is master (resque-scheduler's lock)"
                           % self.me)
            self.recurring.load(now)
        else:
            self.recurring.clear()
            self.log.event("standby", "scheduler %s is standby; master is %s"
                           % (self.me, self.role.holder or "none"))
        if self.on_role is not None:
            self.on_role(self.role)

    def _registry_values(self):
        entry = {"id": self.me, "host": socket.gethostname(), "pid": os.getpid(),
                 "worker": self.worker_id, "interval": self.interval,
                 "lock_timeout": self.config.lock_timeout, "started": self.started,
                 "heartbeat": int(self.redis_now() or time.time())}
        values = []
        for role in ("master", "standby"):
            entry["role"] = role
            values.append(json.dumps(entry, separators=(",", ":")))
        return (self.me, values[0], values[1])

    def redis_now(self):
        if self.redis_offset is None:
            return None
        return time.monotonic() + self.redis_offset

    # -- the end ----------------------------------------------------------------------------
    def release(self):
        """Give up the lock (if ours) and leave the registry: every clean exit calls this."""
        try:
            was_master = self.store.release(self.me)
        except REDIS_DOWN as exc:
            self.log.event("warning", "scheduler could not release its lock: %s" % exc)
            return
        if was_master:
            self.log.event("standby", "scheduler %s released the master lock" % self.me)
