"""The worker's account with Redis of the job it holds: the performed job's record (written with
the next reserve, one round trip a job), the sha1 of the claim it holds, what to do when a
cycle's reply is lost, and the last tries on the way out.

Every job ends in exactly one record: done, one `failed` entry, or back at the head of its
queue. The ledger writes it, or leaves a claim that the next prune records."""
import hashlib
import itertools
import os
import time

import redis

from forkq import errors, wire
from forkq.store.client import REDIS_DOWN
from forkq.store.worker_io import Fenced
from forkq.worker.outcome import failed_entry


class FencedOut(redis.TimeoutError):
    """Our cycles keep finding other fence values: as a lost connection, back off and retry."""


class Ledger:
    def __init__(self, store, wid, log, config, pause=time.sleep):
        self.store = store
        self.wid = wid
        self.log = log
        self.config = config
        self.pause = pause          # seconds -> None: the loop's wait, on the way out
        self.pending = None         # the last job's record (record.Pending), not yet written
        self.claim_sha = None       # sha1 of the worker:<id> claim of the job we hold
        self.uncertain = False      # a cycle's reply was lost: Redis may be ahead of us
        # The fence: each cycle sends the value it last saw set and sets a new one, so a
        # request that may still arrive (its reply lost, held in a partition) cannot act once
        # a later one has (cycle.lua). Values are never reused, by this or any other process.
        self.fence = ""
        self._fences = ("%s.%d" % (os.urandom(6).hex(), n) for n in itertools.count(1))

    def hold(self, pending):
        """A performed job: its record goes out with the next cycle."""
        self.pending = pending

    # -- the hot path: one round trip a job -----------------------------------------------------
    def cycle(self, plan=None):
        """Write the held record and, with a queue `plan`, claim the next job, in one script.
        Returns what the store says (Reserved, Idle, PAUSED or None)."""
        for _ in range(5):
            if self.uncertain:
                self.recover()
            record = self.pending.args(self.wid) if self.pending is not None else None
            self.uncertain = True
            sent = (self.fence, next(self._fences))
            found, finished = self.store.cycle(self.wid, wire.run_at(time.time()), record,
                                               plan, claim_sha=self.claim_sha, fence=sent)
            if not isinstance(found, Fenced):
                break
            # Another request of ours ran since we last heard (its reply was lost), or our
            # fence is gone: take Redis's value and look at the claim again before retrying.
            self.fence = found.value
        else:
            raise FencedOut("the cycle was fenced five times in a row")
        self.fence = sent[1]
        self.uncertain = False
        if self.pending is not None:
            self.pending.log(self.log, finished)
            self.pending = None
        if getattr(found, "claim_sha", None) is not None:
            self.claim_sha = found.claim_sha
        return found

    def recover(self):
        """A cycle's reply was lost. Our claim tells how far it got: still the claim of the job
        we performed → nothing happened, retry as is; gone → the record went through; another
        claim → the record went through and a new job was claimed: put that one back. Every
        claim carries its own number ("seq"), so a new claim of an identical job reserved in
        the same second still differs from the old one."""
        claim = self.store.claim(self.wid)
        sha = hashlib.sha1(claim).hexdigest() if claim is not None else None
        if sha is not None and sha == self.claim_sha and self.pending is not None:
            self.uncertain = False
            return
        if self.pending is not None:
            self.pending.log(self.log, 1)
            self.pending = None
        if sha is not None and sha != self.claim_sha:
            queue, raw, _is_json, job_class = wire.split_claim(claim)
            if self.store.unclaim(self.wid, sha, queue, raw):
                self.log.event("requeued", "job claimed during a Redis fault put back at the "
                               "head of its queue", queue=queue, job=job_class)
        self.uncertain = False

    def unclaim(self, found):
        """A job reserved as a stop came: back to the head of its queue, unstarted."""
        self.store.unclaim(self.wid, found.claim_sha, found.queue, found.raw)

    # -- the way out ----------------------------------------------------------------------------
    def flush(self):
        """The last job's record must still be written."""
        if self.pending is None:
            return
        self.last_tries(lambda: self.cycle() or self.pending is None,
                        "could not record the last job, Redis unavailable: %s; the next "
                        "prune will record it as failed")

    def unregister(self, registered, stop_reason, again=False):
        """Remove every key of ours; a job still claimed is recorded as failed (or requeued).
        `again`: a heartbeat whose reply we gave up on may run in Redis after our release
        (Beat.abandoned): once released, release once more."""
        if not registered:  # never got as far as registering: one quiet try
            try:
                self.release(stop_reason)
            except REDIS_DOWN:
                pass
            return
        if self.last_tries(lambda: self.release(stop_reason),
                           "could not unregister, Redis unavailable: %s; the next prune will "
                           "record this worker's job") and again:
            try:
                self.store.release(self.wid, None)
            except REDIS_DOWN:
                pass

    def release(self, stop_reason):
        claim = self.store.claim(self.wid)
        failure, requeue = "", None
        if claim:
            queue, raw, is_json, _cls = wire.split_claim(claim)
            if self.config.requeue_on_shutdown and is_json:
                requeue = (queue, raw)
            else:
                failure = failed_entry(
                    self.wid, queue, raw, errors.DIRTY_EXIT,
                    "Job still being processed: worker %s stopped (%s)"
                    % (self.wid, stop_reason or "exit"), payload_is_json=is_json)
        return self.store.release(self.wid, claim, failure, requeue) >= 0

    def last_tries(self, attempt, giving_up):
        """Redis may be down on the way out: try `attempt` until it returns true, for at most
        max(10 s, --term-timeout); then log `giving_up` and leave it to the next prune. Any
        error reply is tried again too: the records come first. True if `attempt` did."""
        deadline = time.monotonic() + max(10.0, self.config.term_timeout)
        while True:
            try:
                if attempt():
                    return True
            except REDIS_DOWN + (redis.ResponseError,) as exc:
                if time.monotonic() > deadline:
                    self.log.event("error", giving_up % exc)
                    return False
                self.pause(0.5)
