"""Everything that happens in a child after fork, ending in a report and a named exit code.

The child opens no Redis connection and never touches the parent's socket: it runs the job and
tells the parent what happened through a pipe, or as one datagram on the fork server's report
socket (proc.framing); the parent writes every record.
"""
import json
import os
import sys
import traceback

from forkq import wire
from forkq.api import hooks
from forkq.api import registry as jobs
from forkq.errors import ExitCode, JobTimeout, exception_name
from forkq.proc import framing, kernel, reap, timeouts
from forkq.proc.framing import frame, send

_FORKQ_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # forkq/


_TIMEOUTS_FILE = os.path.abspath(timeouts.__file__)


_IN_JOB = timeouts.in_job


class Job:
    """One reserved job, as hooks see it (Resque hooks get the job object)."""
    __slots__ = ("queue", "raw", "payload", "spec", "reserved_at")

    def __init__(self, queue, raw, payload, spec, reserved_at):
        self.queue = queue
        self.raw = raw
        self.payload = payload
        self.spec = spec
        self.reserved_at = reserved_at

    @property
    def class_name(self):
        return self.payload["class"]

    @property
    def args(self):
        return self.payload["args"]

    def __repr__(self):
        return "<Job %s %s %s>" % (self.queue, self.class_name, protocol_args(self.args))


def job_from_message(message):
    """A job message (framing.job_fields: queue, raw bytes, reserved at), or None: stop → Job.
    The worker checked the payload before sending it; this is the child's one decode."""
    if message is None:
        return None
    queue, raw, at = message
    payload = wire.decode_payload(raw)
    return Job(queue, raw, payload, jobs.lookup(payload["class"]), at)


def protocol_args(args):
    text = json.dumps(args, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:200] + "…"


class Context:
    """What a child needs from the process that forks it, set up before fork."""
    __slots__ = ("report_w", "jobs_r", "box", "default_timeout", "parent_pid", "titles",
                 "jobs_per_child", "report_tag")

    def __init__(self, box, default_timeout, parent_pid, titles, jobs_per_child):
        self.report_w = self.jobs_r = None
        self.report_tag = None  # a fork server's child: its job number, on a shared socket
        self.box = box
        self.default_timeout = default_timeout
        self.parent_pid = parent_pid
        self.titles = titles
        self.jobs_per_child = jobs_per_child


def setup(ctx):
    """The child's start, before it knows its job: its own process group, the parent's signal
    handlers gone, TERM as the parent means it, death with its parent. A fork server's child
    does this while it waits for its job (it is forked ahead of the job)."""
    try:
        os.setpgid(0, 0)  # own group: the parent's escalation reaches grandchildren too
    except OSError:
        pass
    ctx.box.reset_in_child()
    timeouts.obey_parents_term(ctx.parent_pid)
    kernel.die_with_parent()
    if os.getppid() != ctx.parent_pid:
        os._exit(ExitCode.PARENT_GONE)


def run(job, ctx, ready=False):
    """Never returns. With ctx.jobs_r the parent sends more jobs on it (EOF: stop). `ready`:
    setup(ctx) already ran.

    A job's record is its own whatever the job does: a copy of this process that the job
    forked and that returns from perform (os.fork() without an exit) is not this child; it
    exits at once, reporting nothing and taking no job."""
    code = ExitCode.CHILD_ERROR
    me = os.getpid()
    try:
        if not ready:
            setup(ctx)
        reader = None
        if ctx.jobs_r is not None:
            # Between jobs, what a job left behind is ended here (it is ours to reap).
            kernel.become_subreaper()
            reader = framing.Reader(framing.job_fields)
        first = True
        while job is not None:
            report, code = perform(job, ctx.default_timeout, first)
            if os.getpid() != me:
                os._exit(ExitCode.OK)
            first = False
            if ctx.report_tag is not None:  # one datagram on the fork server's report socket
                report = ctx.report_tag + _fit(report)
            if not send(ctx.report_w, report):
                code = ExitCode.REPORT_LOST
                break
            if reader is None:
                break
            reap.sweep()
            job = job_from_message(reader.receive(ctx.jobs_r))
            if job is not None:
                ctx.titles.processing(job.queue, int(job.reserved_at), job.class_name)
        else:
            code = ExitCode.OK
    except BaseException:  # a forkq bug; the parent records the odd exit
        if os.getpid() != me:
            os._exit(ExitCode.OK)
        try:
            traceback.print_exc()
        except BaseException:
            pass
    finally:
        if os.getpid() != me:
            os._exit(ExitCode.OK)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def perform(job, default_timeout, first):
    """Run one job under its timeout. Returns (report, exit code)."""
    spec = job.spec
    timeout = spec.timeout_or(default_timeout)
    try:
        _IN_JOB[0] = True  # before arming, so the alarm never fires unheard (after_fork too)
        try:
            timeouts.arm(timeout)
            if first:
                hooks.run("after_fork", job)
            done = hooks.perform(spec, job.args)
        finally:
            _IN_JOB[0] = False  # first: from here the alarm is a no-op (a bytecode's window)
            timeouts.disarm()
        return (_DONE if done else _SKIPPED), ExitCode.OK
    except JobTimeout as exc:
        return failure_report(exc, spec, timeout=True), ExitCode.JOB_TIMED_OUT
    except BaseException as exc:
        return failure_report(exc, spec), ExitCode.JOB_FAILED


def failure_report(exc, spec=None, timeout=False):
    message = str(exc) if not isinstance(exc, SystemExit) else "job called sys.exit(%r)" % (
        exc.code,)
    report = {"ok": False, "exception": exception_name(exc),
              "error": message or exception_name(exc), "backtrace": backtrace(exc),
              "timeout": timeout}
    if spec is not None and spec.retry is not None:
        # only here is the exception itself, not its name: retry_on matches subclasses
        report["retryable"] = spec.retry.retryable(exc)
    return report


def backtrace(exc):
    """Frames as Ruby prints them (`file:line:in `name'`), innermost first, without forkq's own
    frames around the job (Resque stops at lib/resque/job.rb the same way)."""
    frames = traceback.extract_tb(exc.__traceback__)
    start, end = 0, len(frames)
    while start < end and frames[start].filename.startswith(_FORKQ_DIR):
        start += 1
    while end > start and frames[end - 1].filename == _TIMEOUTS_FILE:  # the alarm's own frame
        end -= 1
    return ["%s:%d:in `%s'" % (f.filename, f.lineno or 0, f.name)
            for f in reversed(frames[start:end])]


REPORT_MAX = 128 << 10  # a report is one datagram on a shared socket: it must fit


def _fit(report):
    """The report framed, cut to REPORT_MAX (a long error text or backtrace is shortened)."""
    data = report if isinstance(report, bytes) else frame(report)
    if len(data) <= REPORT_MAX:
        return data
    report = dict(report, error=report.get("error", "")[:8192] + " … (cut)",
                  backtrace=report.get("backtrace", [])[:100])
    data = frame(report)
    return data if len(data) <= REPORT_MAX else frame(dict(report, error=report["error"][:512],
                                                            backtrace=[]))


# Built before any fork, so a child that succeeds encodes nothing.
_DONE = frame({"ok": True})


_SKIPPED = frame({"ok": True, "skipped": True})
