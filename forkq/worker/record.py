"""A performed job's record, held until the next cycle writes it together with the next
reserve (one round trip a job), and the log line that says how it ended."""
import time

from forkq.worker.outcome import failed_entry


class Pending:
    """A performed job whose record is written with the next cycle (one round trip a job)."""
    __slots__ = ("queue", "raw", "outcome", "child", "started", "payload_is_json", "latency",
                 "job_class", "settlement")

    def __init__(self, queue, raw, outcome, child=None, started=None, payload_is_json=True,
                 latency=None, job_class=None, settlement=None):
        self.queue = queue
        self.raw = raw
        self.outcome = outcome
        self.child = child
        self.started = started
        self.payload_is_json = payload_is_json
        self.latency = latency  # enqueue → reserve, when the payload says when it was enqueued
        self.job_class = job_class
        self.settlement = settlement  # retries and unique locks (worker.retries), or None
        if child is not None:
            child.line_due = True  # reaped before this line goes out: the line tells the exit

    def args(self, wid):
        """(failure JSON, count it in stat:failed, requeue (queue, payload), effects) for
        Store.cycle."""
        outcome, settled = self.outcome, self.settlement
        effects = settled.argv if settled is not None else str
        if outcome.requeue:
            raw = self.raw if isinstance(self.raw, str) else self.raw.decode("utf-8", "replace")
            return "", False, (self.queue, raw), effects()
        if outcome.ok:
            return "", False, None, effects()

        def failure(failed_at=None):
            return failed_entry(wid, self.queue, self.raw, outcome.exception, outcome.error,
                                outcome.backtrace, payload_is_json=self.payload_is_json,
                                failed_at=failed_at)
        text = settled.failure(failure) if settled is not None else failure()
        return text, outcome.count_failed, None, effects()

    def log(self, log, finished):
        """One line for the job: how it ended, how long it took and waited, and how its child
        exited. A child that took its last job is usually gone by now; if not, the line waits
        for its reaping (Children.reaped) rather than going out without the exit status."""
        outcome = self.outcome
        if self.child is not None:
            self.child.line_due = False
        if outcome.requeue:
            name, message = "requeued", outcome.error or "job put back at the head of its queue"
        elif outcome.ok:
            name, message = "done", ""
        else:
            name, message = "failed", "%s: %s" % (outcome.exception, outcome.error)
        if not log.wants(name):
            return
        fields = {"queue": self.queue, "job": self.job_class,
                  "duration": round(time.time() - self.started, 4) if self.started else None,
                  "queue_latency": self.latency, "skipped": outcome.skipped or None}
        if self.settlement is not None:
            fields.update(self.settlement.log_fields())
        if finished == 0:
            fields["note"] = "claim already gone (a pruner recorded this job)"
        child = self.child
        if child is not None:
            fields["pid"] = child.pid
            if child.status is None and not child.accepting:
                child.exited()
                if child.status is None:
                    child.held_event = (name, message, fields)
                    return
            if child.status is not None:
                fields.update(child.exit_fields())
                child.exit_told = True
        log.event(name, message, **fields)
