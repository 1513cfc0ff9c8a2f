"""Where a job's end meets its retry and unique options: the one place a failed Outcome and a
JobSpec become "try again in d seconds" or "give up", and where a failure its child could not
report (a timeout the parent enforced, a kill, the memory guard, a dead worker) gets the job's
on_failure hooks, run by the parent as Resque runs them for a DirtyExit.

A retry is resque-retry's: the attempt counter `resque-retry:<Class>:<sha1>` (SETNX -1 and
INCR as the job starts, so the first attempt is 0; deleted on success and on give-up), the next
try a resque-scheduler delayed job (or straight to the queue when the delay is 0), and nothing
in `failed` while a retry is pending (MultipleWithRetrySuppression), though stat:failed still
counts the failure. All of it is written by the job's own record script (lua/effects.lua), in
the same step as done_working and the counters.
"""
import json
import math
import time

from forkq import errors, wire
from forkq.api import policies, registry
from forkq.store.retries import RetryStore
from forkq.worker.outcome import Outcome
from forkq.wire import retry_keys
from forkq.wire.scheduler import delayed_item


class Settlement:
    """What a job's record does beyond Resque's own: the effects lua/effects.lua applies, and
    what becomes of its `failed` entry (none while a retry is pending; the attempt count added
    when the job gives up)."""
    __slots__ = ("effects", "retry_in", "attempts", "note")

    def __init__(self, effects=None, retry_in=None, attempts=None, note=None):
        self.effects = effects or {}
        self.retry_in = retry_in   # seconds to the next try, when one is scheduled
        self.attempts = attempts   # attempts made so far (the `failed` entry's, on give-up)
        self.note = note

    def failure(self, build):
        """The `failed` entry to write, from build(failed_at or None) → failure JSON."""
        if self.retry_in is not None:
            retry = self.effects.get("retry")
            if retry is not None and self.retry_in > 0:
                # resque-retry's record of the failure while the retry waits (no time zone)
                retry["failure"] = build(time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime()))
            return ""
        failure = build(None)
        if failure and self.attempts is not None:
            # appended after "queue", where resque-web's Retry appends "retried_at"
            failure = failure[:-1] + ',"attempts":%d}' % self.attempts
        return failure

    def log_fields(self):
        return {"retry_in": self.retry_in, "attempts": self.attempts, "note": self.note}

    def argv(self):
        if not self.effects:
            return ""
        return json.dumps(self.effects, ensure_ascii=False, separators=(",", ":"))


class UnusableArgs(ValueError):
    """A job's args cannot be re-encoded (a lone surrogate, nesting past Python's recursion
    limit): it runs without its retry and unique options rather than stop the worker."""


class JobRules:
    """The retry and unique options of one job, from its start to its record."""
    __slots__ = ("spec", "class_name", "args", "queue", "counter", "lock", "attempt",
                 "payload", "item")

    def __init__(self, spec, class_name, args, queue):
        self.spec = spec
        self.class_name = class_name
        self.args = args
        self.queue = queue
        self.counter = retry_keys.retry_key(class_name, args) if spec.retry else None
        self.lock = None
        if spec.unique is not None:
            key = (retry_keys.queue_lock_key if spec.unique.locks_at_enqueue
                   else retry_keys.job_lock_key)
            self.lock = key(class_name, queue, args)
        self.payload = wire.job_payload(class_name, args)
        self.item = delayed_item(class_name, args, queue)
        for text in (self.counter, self.lock, self.payload, self.item):
            if text is not None:
                text.encode("utf-8")  # a lone surrogate ("\ud800" in the JSON) cannot go
        self.attempt = None

    @classmethod
    def of(cls, spec, class_name, args, queue):
        """The rules of a job with retry or unique options, else None. Raises
        UnusableArgs for args no key or re-encoded job can carry."""
        if spec is None or (spec.retry is None and spec.unique is None):
            return None
        try:
            return cls(spec, class_name, args, queue)
        except (ValueError, TypeError, RecursionError) as exc:  # UnicodeError is a ValueError
            raise UnusableArgs("%s: %s" % (type(exc).__name__, exc)) from None

    @property
    def mode(self):
        return self.spec.unique.mode if self.spec.unique is not None else None

    def start(self, store, token=""):
        """Count the attempt and take or free the lock; False: a while_executing twin runs.
        `token`: the claim's sha1, so a retry after a lost reply does not find its own lock
        taken (nor count twice, for a while_executing job)."""
        unique = self.spec.unique
        self.attempt, go = store.start(
            self.counter, self.lock if self.mode == "until_executing" else None,
            self.lock if self.mode == "while_executing" else None,
            unique.lock_ttl if unique is not None else 1, token)
        return go

    def _next_try(self, delay, counter=None):
        retry = {"delay": delay, "queue": self.queue, "payload": self.payload,
                 "item": self.item}
        if counter:
            retry["key"] = counter
        return retry

    def deferred(self):
        """A while_executing twin is running: this one comes back a moment later (node-resque
        JobLock's re-enqueue), neither failed nor an attempt."""
        return Settlement({"retry": self._next_try(policies.UNIQUE_RETRY_DELAY)},
                          note="an identical job is running (while_executing): back in %d s"
                          % policies.UNIQUE_RETRY_DELAY)

    def settle(self, outcome, exc=None):
        """The Settlement of this job's outcome. `exc` is the exception the parent stands in
        for a failure the child did not report (None when it did)."""
        mode, dels, effects = self.mode, [], {}
        if mode == "while_executing" or (mode == "until_executed" and not outcome.requeue):
            dels.append(self.lock)
        if outcome.requeue:  # not an attempt: the counter steps back, as for a fork failure
            if self.counter and self.attempt is not None:
                effects["decr"] = self.counter
        elif outcome.ok:
            if self.counter:
                dels += [self.counter, retry_keys.failure_key(self.counter)]
        else:
            policy = self.spec.retry
            if policy is not None and self.attempt is not None:
                if self._retryable(outcome, exc) and not policy.exhausted(self.attempt):
                    return self._retry(outcome, policy.delay(self.attempt))
                dels += [self.counter, retry_keys.failure_key(self.counter)]
                if dels:
                    effects["del"] = dels
                return Settlement(effects, attempts=self.attempt + 1)
        if dels:
            effects["del"] = dels
        return Settlement(effects)

    def given_up(self):
        """No retry whatever happened: counter and locks go, the failure is written."""
        dels = [k for k in (self.counter, self.counter and retry_keys.failure_key(self.counter),
                            self.lock) if k]
        return Settlement({"del": dels} if dels else {},
                          attempts=self.attempt + 1 if self.attempt is not None else None)

    def _retryable(self, outcome, exc):
        if outcome.retryable is not None:  # the child judged the real exception
            return outcome.retryable
        if exc is None:
            exc = errors.DirtyExit(outcome.error or "")
        return self.spec.retry.retryable(exc)

    def _retry(self, outcome, delay):
        delay = int(delay) if float(delay).is_integer() else float(delay)  # JSON-able
        retry = self._next_try(delay, self.counter)
        retry["failure_key"] = retry_keys.failure_key(self.counter)
        retry["failure_ttl"] = max(1, int(math.ceil(2 * delay)))  # resque-retry: 2 x delay
        effects = {"retry": retry}
        if outcome.count_failed:
            effects["stat_failed"] = True
        if self.mode == "until_executed":  # the lock waits with the job
            effects["expire"] = [[self.lock, int(math.ceil(delay)) + self.spec.unique.lock_ttl]]
        elif self.mode == "while_executing":
            effects["del"] = [self.lock]
        return Settlement(effects, retry_in=delay, attempts=self.attempt + 1)


def parent_exception(outcome):
    """What on_failure hooks and retry_on see for a failure the parent found: JobTimeout when
    the job's time ran out, DirtyExit for a child that died or was killed."""
    if outcome.timed_out:
        return errors.JobTimeout(outcome.error or "")
    return errors.DirtyExit(outcome.error or "")


def run_failure_hooks(spec, exc, args, log):
    """The job's on_failure hooks, in the parent; an error in one is logged, never raised."""
    for hook in spec.hooks.get("on_failure", ()):
        try:
            hook(exc, *args)
        except BaseException as err:  # sys.exit() in a hook must not end the worker
            log.event("error", "on_failure hook %s failed: %r"
                      % (getattr(hook, "__name__", hook), err))


class Retries:
    """The worker's side: begin a job, settle its outcome, settle a pruned job."""

    def __init__(self, store, log):
        self.worker_store = store
        self.log = log
        self._store = None

    @property
    def store(self):
        if self._store is None:
            self._store = RetryStore(self.worker_store.redis, self.worker_store.keys)
        return self._store

    def begin(self, spec, class_name, args, queue, token=""):
        """(rules or None, go on?) for a reserved job (`token`: its claim's sha1); one round
        trip, and only for a job with retry or unique options."""
        try:
            rules = JobRules.of(spec, class_name, args, queue)
        except UnusableArgs as exc:
            self.log.event("warning", "%s runs without its retry/unique options: its args "
                           "cannot be re-encoded (%s)" % (class_name, exc))
            return None, True
        if rules is None:
            return None, True
        return rules, rules.start(self.store, token)

    def settle(self, spec, args, outcome, rules):
        """The one place a job's outcome becomes the extras of its record. Runs the on_failure
        hooks of a failure the child could not report."""
        exc = None
        if not outcome.ok and not outcome.requeue and not outcome.reported and spec is not None:
            exc = parent_exception(outcome)
            run_failure_hooks(spec, exc, args, self.log)
        if rules is None:
            return None
        try:
            return rules.settle(outcome, exc)
        except Exception as err:  # a backoff callable that raised: record, never stop
            self.log.event("error", "retry decision for %s failed (%r): recorded as given up"
                           % (rules.class_name, err))
            return rules.given_up()

    def settle_pruned(self, queue, raw, exception, error):
        """A job taken from a dead worker: its hooks run here (the pruning worker), and it is
        retried if its options say so, counting the attempt the dead worker started."""
        try:
            return self._settle_pruned(queue, wire.decode_payload(raw), exception, error)
        except ValueError:
            return None
        except Exception as exc:  # a job's options or hooks must not stop the prune
            self.log.event("error", "retry of a pruned job failed: %r" % exc)
            return None

    def _settle_pruned(self, queue, payload, exception, error):
        spec = registry.lookup(payload["class"])
        if spec is None:
            return None
        exc = (errors.PruneDeadWorkerDirtyExit if exception == errors.PRUNE_DIRTY_EXIT
               else errors.DirtyExit)(error)
        run_failure_hooks(spec, exc, payload["args"], self.log)
        rules = JobRules.of(spec, payload["class"], payload["args"], queue)
        if rules is None:
            return None
        if rules.counter:
            rules.attempt = self.store.attempt(rules.counter)
        return rules.settle(Outcome(False, exception, error), exc)

    def warn_without_scheduler(self, scheduling, lock_prefix=""):
        """Once, at start-up: retries (and deferred while_executing twins) wait in
        resque-scheduler's delayed set, which only a scheduler moves. `scheduling`: this
        worker runs one itself (--scheduler)."""
        waiting = [s.name for s in map(registry.lookup, registry.registered())
                   if s is not None and ((s.retry is not None and s.retry.delays) or
                                         (s.unique is not None and s.unique.mode ==
                                          "while_executing"))]
        if not waiting or scheduling or self.store.scheduler_running(lock_prefix):
            return False
        self.log.event("warning", "no scheduler is running (nobody holds resque-scheduler's "
                       "master lock): retries of %s wait until one runs (`forkq "
                       "scheduler`, `forkq work --scheduler`, or Ruby's resque-scheduler)"
                       % ", ".join(sorted(waiting)))
        return True
