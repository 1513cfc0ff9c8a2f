"""A performed job's record, held until the next cycle writes it together with the next
reserve (one round trip a job), and the log line that says how it ended."""
import time

from . import protocol


class Pending:
    """A performed job whose record is written with the next cycle (one round trip a job)."""
    __slots__ = ("queue", "raw", "outcome", "child", "started", "payload_is_json")

    def __init__(self, queue, raw, outcome, child=None, started=None, payload_is_json=True):
        self.queue = queue
        self.raw = raw
        self.outcome = outcome
        self.child = child
        self.started = started
        self.payload_is_json = payload_is_json

    def args(self, wid):
        """(failure JSON, count it in stat:failed, requeue (queue, payload)) for Store.cycle."""
        outcome = self.outcome
        if outcome.requeue:
            raw = self.raw if isinstance(self.raw, str) else self.raw.decode("utf-8", "replace")
            return "", False, (self.queue, raw)
        if outcome.ok:
            return "", False, None
        failure = protocol.failure_json(
            protocol.failed_at(time.time()), self.raw, outcome.exception, outcome.error,
            outcome.backtrace, wid, self.queue, payload_is_json=self.payload_is_json)
        return failure, outcome.count_failed, None

    def log(self, log, finished):
        outcome = self.outcome
        fields = {"queue": self.queue,
                  "duration": round(time.time() - self.started, 4) if self.started else None}
        if self.child is not None:
            fields["pid"] = self.child.pid
            if self.child.status is not None:
                fields.update(peak_rss_mb=self.child.peak_rss_mb, cpu=self.child.cpu_seconds)
        if finished == 0:
            fields["note"] = "claim already gone (a pruner recorded this job)"
        if outcome.requeue:
            log.event("requeued", outcome.error or "job put back at the head of its queue",
                      **fields)
        elif outcome.ok:
            log.event("done", skipped=outcome.skipped or None, **fields)
        else:
            log.event("failed", "%s: %s" % (outcome.exception, outcome.error), **fields)
