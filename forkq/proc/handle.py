"""The parent's handle on one child: spawn it, feed it jobs, read its reports, reap it, and say
how it ended (wait status in words, peak RSS, CPU).

A child the fork server forked (Child.served) reports on the server's report socket, which
its handle waits on (report_r) until the child has ended; its exit status, peak RSS and CPU
come from the server once it has reaped the child; its pid is known as soon as the server has
forked it (ForkServer.pid_of)."""
import collections
import os
import sys
import time

from forkq.proc import child, framing, reap, timeouts

_ours = set()  # pids of the children the worker forked itself and has not reaped: not strays


class Child:
    def __init__(self, pid, report_r, jobs_w, server=None, number=None):
        self._pid = pid
        self.report_r = report_r
        self.jobs_w = jobs_w
        self.server = server  # the fork server that forked it, or None (we did)
        self.number = number  # its job's number at the fork server
        self.guard = None     # the guard that ends its group if the worker dies (we forked it)
        self.fork_error = None  # the fork server could not fork it: why
        self.reader = framing.Reader()
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
        if server is None:
            os.set_blocking(report_r, False)
            _ours.add(pid)

    @classmethod
    def served(cls, server, message, class_name=""):
        """Have the fork server fork a child for the job `message`. OSError if it cannot."""
        return cls(None, server.reports.fileno(), None, server,
                   server.spawn(message, class_name))

    @property
    def pid(self):
        if self._pid is None and self.server is not None:
            self._pid = self.server.pid_of(self.number)
        return self._pid

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
            os.write(self.jobs_w, framing.job_frame(message["queue"], message["raw"],
                                                    message["at"]))
        except OSError:
            return False
        self.jobs_sent += 1
        return True

    def read(self, ended=False):
        """Take whatever the child has written; complete reports go to self.reports. A frame
        that does not decode is skipped: the exit status will tell. `ended`: it has exited."""
        if self.server is not None:
            self.reports.extend(self.server.take_reports(self.number, force=ended))
            return
        if not self.eof:
            reports, self.eof = self.reader.read_fd(self.report_r)
            self.reports.extend(reports)

    def exited(self):
        """Reap the child if it has ended (forkq.proc.reap: its group and whatever it left
        behind are killed first). A child of the fork server is reaped there; its end arrives
        as a frame. Once it is reaped, nothing more is awaited from its pipe: a grandchild may
        hold the pipe open, and is dead by then anyway."""
        if self.status is not None:
            return True
        if self.server is not None:
            return self._served_exit()
        ended = reap.reap(self._pid, keep=_ours, before_wait=self._forget)
        if ended is None:
            return False
        self._forget(self._pid)  # also when it was reaped elsewhere (as PID 1)
        _ours.discard(self._pid)
        self.status, self.maxrss_kb, self.cpu_seconds = ended
        if not self.eof:
            reports, _eof = self.reader.read_fd(self.report_r)
            self.reports.extend(reports)
            self.eof = True
        return True

    def _forget(self, pid):
        if self.guard is not None:  # before the reap frees the pid for another process
            self.guard.forget(pid)

    def _served_exit(self):
        server = self.server
        server.poll()
        ended = server.take(self.number)
        if ended is None:
            if not server.dead:
                if self.pid is None and time.monotonic() - self.spawned > server.spawn_wait:
                    server.kill()  # stuck: the job is recorded, the worker falls back
                return False
            ended = (None, -1, None, None)  # the server died: status unknown
        if len(ended) == 1:
            self.fork_error = ended[0]
            ended = (None, -1, None, None)
        pid, self.status, maxrss, cpu = ended
        if pid:
            self._pid = pid
        self.maxrss_kb = maxrss or None
        self.cpu_seconds = cpu if maxrss else None
        if not server.dead:
            self.read(ended=True)  # it wrote before it exited: the datagram is there
        server.forget(self.number)
        self.eof = True  # the shared socket is no longer this child's to wait on
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
        if self.server is None:
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
