"""How long to wait before trying Redis again, and when to stop trying.

The loop asks after each failed Redis operation; the wait itself happens in the loop's one wait
point, so signals and the timeout chain still act while Redis is away."""
import time

from forkq.store.client import NOT_NOW, RECONNECT

FIRST = 0.1
MAX_BACKOFF = 10.0
BURST_GIVE_UP = 10.0  # --burst is for scripts and cron: they want an answer, not a vigil


class Stop(Exception):
    """Leave the loop now (a stop was asked for while Redis was unreachable)."""


class Unavailable(Exception):
    """--burst and Redis stayed unreachable: exit UNAVAILABLE rather than wait forever."""


class Backoff:
    """Capped exponential backoff over one spell of Redis being away."""

    def __init__(self, give_up=None):
        self.give_up = give_up  # seconds (--burst), or None: wait for Redis forever
        self.delay = FIRST
        self.down_since = None

    @property
    def down(self):
        return self.down_since is not None

    def failed(self, now):
        """The next delay. Raises Unavailable when the spell, with that delay, would pass
        the give-up limit."""
        if self.down_since is None:
            self.down_since = now
        away = now - self.down_since
        if self.give_up is not None and away + self.delay > self.give_up:
            raise Unavailable("Redis unreachable for %.1f s, and the next try would come "
                              "after --burst's limit of %d s" % (away, self.give_up))
        delay, self.delay = self.delay, min(self.delay * 2, MAX_BACKOFF)
        return delay

    def succeeded(self, now):
        """Seconds Redis was away, if it was; the next spell starts from the first delay."""
        if self.down_since is None:
            return None
        away = now - self.down_since
        self.down_since, self.delay = None, FIRST
        return away


FAILED = object()   # a Redis operation failed: the backoff says when to try again


class Calls:
    """The loop's own Redis operations under one backoff: `attempt` runs one if the backoff
    allows and answers FAILED when Redis cannot serve now; the loop waits until `not_before`
    (in its one wait point) and tries again."""

    def __init__(self, store, log, give_up=None, on_back=None):
        self.store = store
        self.log = log
        self.backoff = Backoff(give_up)
        self.on_back = on_back      # called when Redis answers again after a spell away
        self.not_before = 0.0
        self.retry_in = None        # the last delay, for the log and the tests

    @property
    def down(self):
        return self.backoff.down

    def attempt(self, op, *args):
        now = time.monotonic()
        if now < self.not_before:
            return FAILED
        try:
            result = op(*args)
        except NOT_NOW as exc:
            self.retry_in = delay = self.backoff.failed(now)
            self.log.event("redis_down", "Redis unavailable (%s: %s); retrying in %.1f s"
                           % (type(exc).__name__, exc, delay))
            if isinstance(exc, RECONNECT):
                self.store.reconnect()
            self.not_before = time.monotonic() + delay
            return FAILED
        away = self.backoff.succeeded(time.monotonic())
        if away is not None:
            self.log.event("redis_up", "Redis is back after %.1f s" % away)
            if self.on_back is not None:
                self.on_back()
        return result
