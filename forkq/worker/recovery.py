"""The worker's side of Redis faults: retrying an operation with backoff while still acting on
signals, finding out how far a cycle got when its reply was lost, and the last tries on the
way out (the last job's record, unregistering) before leaving the rest to the next prune.

A mixin of Worker: it works on the worker's own state (pending record, claim, stop mode)."""
import hashlib
import time
import traceback

from forkq import errors, wire
from forkq.store.client import RECONNECT, REDIS_DOWN

MAX_BACKOFF = 10.0
BURST_GIVE_UP = 10.0  # --burst is for scripts and cron: they want an answer, not a vigil


class Stop(Exception):
    """Leave the loop now (a stop was asked for while Redis was unreachable)."""


class Unavailable(Exception):
    """--burst and Redis stayed unreachable: exit UNAVAILABLE rather than wait forever."""


class RedisFaults:
    def retrying(self, op, *args):
        """Run a Redis operation until it succeeds, backing off (capped, exponential) and still
        acting on signals; a stop asked for meanwhile raises Stop. With --burst, Redis gone for
        BURST_GIVE_UP seconds raises Unavailable."""
        delay = 0.1
        down_since = None
        while True:
            try:
                result = op(*args)
                if down_since is not None:
                    self.log.event("redis_up", "Redis is back after %.1f s"
                                   % (time.monotonic() - down_since))
                    if self.registered:
                        self.next_beat = 0.0  # re-register (if our keys vanished) right away
                return result
            except REDIS_DOWN as exc:
                if down_since is None:
                    down_since = time.monotonic()
                if self.config.draining and \
                        time.monotonic() - down_since + delay > BURST_GIVE_UP:
                    raise Unavailable("Redis unreachable for %.1f s, and --burst waits at most "
                                      "%d s" % (time.monotonic() - down_since, BURST_GIVE_UP)
                                      ) from exc
                self.log.event("redis_down", "Redis unavailable (%s: %s); retrying in %.1f s"
                               % (type(exc).__name__, exc, delay))
                if isinstance(exc, RECONNECT):
                    self.store.reconnect()
                self.wait_fds((), delay)
                self.handle_signals()
                if self.stopping == "now" or (self.stopping and self.children.current is None):
                    raise Stop() from exc
                delay = min(delay * 2, MAX_BACKOFF)

    def recover(self):
        """A cycle's reply was lost. Our claim tells how far it got: still the claim of the job
        we performed → nothing happened, retry as is; gone → the record went through; another
        claim → the record went through and a new job was claimed: put that one back. Every
        claim carries its own number ("seq"), so a new claim of an identical job reserved in
        the same second still differs from the old one."""
        claim = self.store.claim(self.id)
        sha = hashlib.sha1(claim).hexdigest() if claim is not None else None
        if sha is not None and sha == self.claim_sha and self.pending is not None:
            self.uncertain = False
            return
        if self.pending is not None:
            self.pending.log(self.log, 1)
            self.pending = None
        if sha is not None and sha != self.claim_sha:
            queue, raw, _is_json, job_class = wire.split_claim(claim)
            if self.store.unclaim(self.id, sha, queue, raw):
                self.log.event("requeued", "job claimed during a Redis fault put back at the "
                               "head of its queue", queue=queue, job=job_class)
        self.uncertain = False

    # -- leaving ------------------------------------------------------------------------------
    def clean_up(self, step):
        """One step of the way out: whatever it raises is logged, and the next step runs."""
        try:
            step()
        except Exception as exc:
            try:
                self.log.event("error", "clean-up step %s failed: %r"
                               % (getattr(step, "__name__", "?"), exc),
                               traceback=traceback.format_exc())
            except Exception:
                pass  # the log itself is broken (stderr closed): nothing left to tell

    def flush_pending(self):
        """On the way out: the last job's record must still be written."""
        if self.pending is None:
            return
        self.last_tries(lambda: self.cycle(reserve=False) or self.pending is None,
                        "could not record the last job, Redis unavailable: %s; the next "
                        "prune will record it as failed")

    def last_tries(self, attempt, giving_up):
        """On the way out, Redis may be down: try `attempt` until it returns true, for at most
        max(10 s, --term-timeout); then log `giving_up` and leave it to the next prune."""
        deadline = time.monotonic() + max(10.0, self.config.term_timeout)
        while True:
            try:
                if attempt():
                    return
            except REDIS_DOWN as exc:
                if time.monotonic() > deadline:
                    self.log.event("error", giving_up % exc)
                    return
                time.sleep(0.5)

    def unregister(self):
        """Remove every key of ours; a job still claimed is recorded as failed (or requeued)."""
        if self.waker is not None:
            self.waker.close()
        if not self.registered:  # never got as far as registering: one quiet try
            try:
                self.release_self()
            except REDIS_DOWN:
                pass
            return
        self.last_tries(self.release_self, "could not unregister, Redis unavailable: %s; the "
                                           "next prune will record this worker's job")

    def release_self(self):
        claim = self.store.claim(self.id)
        failure, requeue = "", None
        if claim:
            queue, raw, is_json, _cls = wire.split_claim(claim)
            if self.config.requeue_on_shutdown and is_json:
                requeue = (queue, raw)
            else:
                failure = wire.failure_json(
                    wire.failed_at(time.time()), raw, errors.DIRTY_EXIT,
                    "Job still being processed: worker %s stopped (%s)"
                    % (self.id, self.stop_reason or "exit"), [], self.id, queue,
                    payload_is_json=is_json)
        return self.store.release(self.id, claim, failure, requeue) >= 0
