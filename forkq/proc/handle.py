"""The parent's handle on one child: spawn it, feed it jobs, read its reports, reap it, and say
how it ended (wait status in words, peak RSS, CPU)."""
import collections
import os
import signal
import sys
import time

from forkq.proc import child, framing, timeouts


class Child:
    def __init__(self, pid, report_r, jobs_w, server=None):
        self.pid = pid
        self.report_r = report_r
        self.jobs_w = jobs_w
        self.server = server  # the fork server that forked it, or None (we did)
        self.guard = None     # the guard that ends its group if the worker dies (we forked it)
        self.buffer = bytearray()
        self.reports = collections.deque()
        self.status = None
        self.maxrss_kb = None
        self.cpu_seconds = None
        self.jobs_sent = 1
        self.spawned = time.monotonic()
        self.eof = False
        self.retired_at = None
        self.held_event = None  # its last job's log line, said once the exit status is known
        self.exit_told = False  # a job's log line already said how it exited
        self.line_due = False   # its last job's line is still to come (and will say it)
        os.set_blocking(report_r, False)

    @classmethod
    def spawn(cls, job, ctx):
        """Fork a child for `job`. `ctx` is the child.Context the child runs with."""
        report_r, report_w = os.pipe()
        jobs_r = jobs_w = None
        if ctx.jobs_per_child > 1:
            jobs_r, jobs_w = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # or the child repeats the parent's buffer
            stream.flush()
        pid = os.fork()
        if pid == 0:
            os.close(report_r)
            if jobs_w is not None:
                os.close(jobs_w)
            ctx.report_w, ctx.jobs_r = report_w, jobs_r
            child.run(job, ctx)  # never returns
        os.close(report_w)
        if jobs_r is not None:
            os.close(jobs_r)
        try:
            os.setpgid(pid, pid)  # also done in the child; whichever runs first wins the race
        except OSError:
            pass
        return cls(pid, report_r, jobs_w)

    @property
    def accepting(self):
        return self.jobs_w is not None and self.status is None and self.retired_at is None

    def send_job(self, message):
        try:
            os.write(self.jobs_w, framing.frame(message))
        except OSError:
            return False
        self.jobs_sent += 1
        return True

    def read(self):
        """Take whatever the child has written; complete reports go to self.reports."""
        while not self.eof:
            try:
                chunk = os.read(self.report_r, 65536)
            except (BlockingIOError, InterruptedError):
                break
            if not chunk:
                self.eof = True
                break
            self.buffer += chunk
        if self.buffer:
            try:
                self.reports.extend(framing.unframe(self.buffer))
            except ValueError:
                self.buffer.clear()  # garbage on the pipe: the exit status will tell

    def exited(self):
        """Reap the child if it has ended. Before reaping, its process group gets SIGKILL, so
        no grandchild outlives the job (the zombie holds the group id until then). A child of
        the fork server is reaped there; its exit arrives as an event."""
        if self.status is not None:
            return True
        if self.server is not None:
            self.server.poll()
            ended = self.server.take_exit(self.pid)
            if ended is None:
                if not self.server.dead:
                    return False
                ended = (None, None, None)  # the server died: status unknown
            self.status, self.maxrss_kb, self.cpu_seconds = ended
            self.status = self.status if self.status is not None else -1
            self.read()
            return True
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            info = True  # reaped elsewhere (PID 1 sweep); status is then unknown
        if info is None:
            return False
        timeouts.kill_group(self.pid, signal.SIGKILL)
        if self.guard is not None:  # before the reap frees the pid for another process
            self.guard.forget(self.pid)
        try:
            _pid, status, usage = os.wait4(self.pid, 0)
            self.maxrss_kb = usage.ru_maxrss
            self.cpu_seconds = round(usage.ru_utime + usage.ru_stime, 4)
        except ChildProcessError:
            status = -1
        self.status = status
        self.read()
        return True

    def retire(self):
        """No more jobs for this child: closing its job pipe makes it exit."""
        if self.retired_at is None:
            self.retired_at = time.monotonic()
        if self.jobs_w is not None:
            try:
                os.close(self.jobs_w)
            except OSError:
                pass
            self.jobs_w = None

    def close(self):
        self.retire()
        try:
            os.close(self.report_r)
        except OSError:
            pass

    def exit_fields(self):
        """How it ended, for a log line: the wait status in words, peak RSS, CPU seconds."""
        known = self.status is not None and self.status >= 0
        return {"status": timeouts.describe_status(self.status) if known else "unknown",
                "peak_rss_mb": self.peak_rss_mb, "cpu": self.cpu_seconds}

    @property
    def peak_rss_mb(self):
        # ru_maxrss is in kilobytes on Linux
        return round(self.maxrss_kb / 1024.0, 1) if self.maxrss_kb else None
