"""The options `@forkq.job` takes for automatic retries and unique jobs, checked once when the
job is registered, and the two decisions they make: how long until the next try, and whether
this failure is one to retry.

Retries follow resque-retry's counting: `retry=N` allows N retries after the first attempt
(N + 1 attempts in all), and the delay after the attempt numbered k (0 for the first) is
backoff[k], the last delay repeating, as resque-retry's @backoff_strategy.
"""
import dataclasses
import numbers

EXPONENTIAL = "exponential"
UNIQUE_MODES = ("until_executing", "until_executed", "while_executing")
DEFAULT_LOCK_TTL = 3600  # node-resque's QueueLock/JobLock default lockTimeout
# A while_executing job whose twin is running comes back this much later (node-resque's
# JobLock re-enqueues in 1001 ms; resque-scheduler's timestamps are whole seconds).
UNIQUE_RETRY_DELAY = 1


def exponential_delay(count, rng=None):
    """Sidekiq's retry delay: count**4 + 15 + rand(10 * (count + 1)) seconds, where count is
    the number of retries already made (0 before the first): 15-24 s, 16-35 s, 31-60 s, 96-135
    s, ... (about 3 days in all for 20 retries). The jitter spreads a burst of failures."""
    if rng is None:  # imported here: `random` reseeds itself in every child the server forks
        import random as rng
    return count ** 4 + 15 + rng.randrange(10 * (count + 1))


def _delay_ok(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value >= 0 \
        and value == value and value != float("inf")


def _exceptions(value, option):
    if value is None:
        return None
    items = value if isinstance(value, (tuple, list)) else (value,)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise TypeError("%s takes exception classes, not %r" % (option, item))
    return tuple(items)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    limit: int                # retries after the first attempt
    backoff: object           # seconds, a tuple of seconds, EXPONENTIAL, or callable(count)
    retry_on: tuple = None    # retry only these (None: every failure)
    give_up_on: tuple = ()    # never retry these, whatever retry_on says

    @classmethod
    def build(cls, retry, backoff=None, retry_on=None, give_up_on=None):
        """The policy for `@forkq.job(retry=…, backoff=…, retry_on=…, give_up_on=…)`, or None
        when the job does not retry. Bad values raise at registration, not at the failure."""
        if retry is None or retry is False:
            if backoff is not None or retry_on is not None or give_up_on is not None:
                raise ValueError("backoff, retry_on and give_up_on need retry=N")
            return None
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ValueError("retry takes a number of retries (an int >= 0), not %r" % (retry,))
        if backoff is None:
            backoff = EXPONENTIAL
        elif isinstance(backoff, (list, tuple)):
            if not backoff or not all(_delay_ok(d) for d in backoff):
                raise ValueError("a backoff list needs one or more delays >= 0 (seconds)")
            backoff = tuple(backoff)
        elif not (backoff == EXPONENTIAL or callable(backoff) or _delay_ok(backoff)):
            raise ValueError("backoff is seconds, a list of seconds, %r or a callable, not %r"
                             % (EXPONENTIAL, backoff))
        return cls(retry, backoff, _exceptions(retry_on, "retry_on"),
                   _exceptions(give_up_on, "give_up_on") or ())

    def delay(self, attempt, rng=None):
        """Seconds to wait after the failed attempt numbered `attempt` (0 = the first)."""
        backoff = self.backoff
        if backoff == EXPONENTIAL:
            return exponential_delay(attempt, rng)
        if isinstance(backoff, tuple):
            return backoff[min(attempt, len(backoff) - 1)]
        if callable(backoff):
            value = backoff(attempt)
            if not _delay_ok(value):
                raise ValueError("backoff(%d) returned %r, not seconds >= 0" % (attempt, value))
            return value
        return backoff

    @property
    def delays(self):
        """False when every retry goes straight back to its queue (no scheduler needed)."""
        backoff = self.backoff
        if isinstance(backoff, tuple):
            return any(backoff)
        return backoff == EXPONENTIAL or callable(backoff) or backoff > 0

    def retryable(self, exc):
        """Is this failure one to retry (the limit aside)?"""
        if self.give_up_on and isinstance(exc, self.give_up_on):
            return False
        return self.retry_on is None or isinstance(exc, self.retry_on)

    def exhausted(self, attempt):
        """resque-retry's retry_limit_reached?: the attempt just failed was the last allowed."""
        return attempt >= self.limit


@dataclasses.dataclass(frozen=True)
class UniquePolicy:
    mode: str
    lock_ttl: int

    @classmethod
    def build(cls, unique, lock_ttl=None):
        if unique is None or unique is False:
            if lock_ttl is not None:
                raise ValueError("lock_ttl needs unique=…")
            return None
        if unique not in UNIQUE_MODES:
            raise ValueError("unique is one of %s, not %r" % (", ".join(UNIQUE_MODES), unique))
        ttl = DEFAULT_LOCK_TTL if lock_ttl is None else lock_ttl
        if isinstance(ttl, bool) or not isinstance(ttl, numbers.Real) or ttl < 1 or \
                ttl != ttl or ttl == float("inf"):
            raise ValueError("lock_ttl is seconds >= 1, not %r" % (lock_ttl,))
        return cls(unique, int(round(ttl)))

    @property
    def locks_at_enqueue(self):
        return self.mode != "while_executing"
