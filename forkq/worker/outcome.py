"""What becomes of one job: what its child reported, or what the parent saw of its end."""
import os
import signal
import time

from forkq import errors, wire
from forkq.errors import CHILD_CODES, ExitCode
from forkq.proc import timeouts


class Outcome:
    """What becomes of one job: done (maybe skipped by a hook), or one failure."""
    __slots__ = ("ok", "skipped", "exception", "error", "backtrace", "count_failed",
                 "timed_out", "requeue", "detail", "reported", "retryable")

    def __init__(self, ok, exception=None, error=None, backtrace=(), count_failed=False,
                 skipped=False, timed_out=False, requeue=False, detail=None, reported=False,
                 retryable=None):
        self.ok = ok
        self.skipped = skipped
        self.exception = exception
        self.error = error
        self.backtrace = list(backtrace)
        self.count_failed = count_failed
        self.timed_out = timed_out
        self.requeue = requeue
        self.detail = detail
        self.reported = reported    # the child reported it (and ran the on_failure hooks)
        self.retryable = retryable  # the child's verdict on the real exception (retry_on)

    @classmethod
    def from_report(cls, report):
        if report.get("ok"):
            return cls(True, skipped=bool(report.get("skipped")), reported=True)
        return cls(False, report.get("exception") or "Exception", report.get("error") or "",
                   report.get("backtrace") or [], count_failed=True,
                   timed_out=bool(report.get("timeout")), reported=True,
                   retryable=report.get("retryable"))

    @classmethod
    def from_exit(cls, child, elapsed, escalation):
        """The child ended without a report: say what the parent saw, in words."""
        if getattr(child, "fork_error", None):  # the fork server could not fork: put it back
            return cls(False, requeue=True, error=child.fork_error)
        known = child.status is not None and child.status >= 0
        words = timeouts.describe_status(child.status) if known else (
            "ended with its fork server (status unknown)" if child.server is not None
            else "ended (status unknown)")
        code = os.WEXITSTATUS(child.status) if known and os.WIFEXITED(child.status) else None
        if code is not None and code in CHILD_CODES and code != ExitCode.OK:
            words += " (%s)" % CHILD_CODES[code].name
        if escalation is None and code == ExitCode.OK:
            words += " without reporting a result"
        text = "Child process %s %s after %.1f s" % (child.pid or "(never forked)", words,
                                                      elapsed)
        if child.peak_rss_mb is not None:
            text += ", peak RSS %s MB" % child.peak_rss_mb
        if escalation is not None:
            text = "%s: %s" % (escalation.reason, text)
            if escalation.reason.startswith("timed out"):
                # The job's own time ran out, as when the alarm fires in the child: counted
                # in stat:failed like any job failure (a DirtyExit is not).
                return cls(False, errors.exception_name(errors.JobTimeout), text,
                           count_failed=True, timed_out=True)
        elif known and os.WIFSIGNALED(child.status) and \
                os.WTERMSIG(child.status) == signal.SIGKILL:
            text += " (OOM killer?)"
        return cls(False, errors.DIRTY_EXIT, text)


def failed_entry(wid, queue, raw, exception, error, backtrace=(), payload_is_json=True,
                 failed_at=None):
    """The one builder of the worker's `failed` entries (a job's own failure, a job held when
    its worker stopped or died): Resque's shape, stamped `failed_at` (default: now)."""
    return wire.failure_json(failed_at or wire.failed_at(time.time()), raw, exception, error,
                             list(backtrace), wid, queue, payload_is_json=payload_is_json)
