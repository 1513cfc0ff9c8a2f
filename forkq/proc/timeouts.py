"""Timeouts by signals, escalation, and wait statuses in words.

The child's own alarm fires first and raises JobTimeout inside the job. A job that cannot be
interrupted there (blocked in C, ignoring SIGALRM) is ended by the parent: TERM to the child's
process group once the grace is over, KILL `term_timeout` later. Deadlines use the monotonic
clock; only records carry wall-clock time.
"""
import mmap
import os
import signal
import struct
import time

import _signal

from forkq.errors import JobTimeout
from forkq.proc.signals import name as signal_name


def _raise_timeout(_signum, _frame):
    # Only inside the job: an alarm due just as perform returned (before disarm) must not turn
    # a finished job into a timed-out one.
    if in_job[0]:
        raise JobTimeout("timed out after %s s" % format_seconds(_armed[0]))


_armed = [0]
in_job = [False]  # set by the child before it arms the alarm, cleared first thing after perform


def install():
    """The alarm handler, installed once in the parent before any fork (the parent never arms
    the timer), so the child only has to arm it: fewer pages touched after fork."""
    signal.signal(signal.SIGALRM, _raise_timeout)


def arm(seconds):
    """In the child: raise JobTimeout in the job after `seconds` (0 or None: never)."""
    if not seconds:
        return
    _armed[0] = seconds
    # _signal: no enum wrapping in the child (see signals.SignalBox.reset_in_child)
    if _signal.getsignal(signal.SIGALRM) is not _raise_timeout:  # a previous job replaced it
        install()
    signal.setitimer(signal.ITIMER_REAL, seconds)


def disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


# Platforms such as Heroku send TERM to every process of a dyno at once. The worker gets it too
# and gives the job --shutdown-timeout to finish, which it could not if the child died of the
# same TERM at once. So a job's child obeys at once only a TERM the parent marked; any other TERM
# it obeys unless the parent says, within PLATFORM_WAIT, that it is stopping too (then the TERM
# was the platform's and the parent decides). The marks live in a page every process forked
# from the worker shares (MAP_SHARED, made at import, before any fork): [ordered pid, stopping].
PLATFORM_WAIT = 1.0
_page = mmap.mmap(-1, 16)


def _word(i):
    return struct.unpack_from("=q", _page, 8 * i)[0]


def order_term(pid):
    """In the parent, before it sends TERM to the child `pid`: this TERM is meant."""
    struct.pack_into("=q", _page, 0, pid)


def forget_term(pid):
    """The child `pid` is reaped: its mark must not hold for a later child with its pid."""
    if _word(0) == pid:
        order_term(0)


def parent_stopping():
    """In the parent, when it starts to stop: a TERM its child gets now is the platform's."""
    struct.pack_into("=q", _page, 8, 1)


def obey_parents_term(parent_pid):
    """In the child: TERM ends it (by that signal, as before) unless it is a TERM every process
    got while the parent, which got it too, is stopping and deciding the job's time."""
    def on_term(_signum, _frame):
        if _word(0) != os.getpid() and os.getppid() == parent_pid:
            deadline = time.monotonic() + PLATFORM_WAIT
            while True:
                if _word(1):
                    return
                if time.monotonic() > deadline:
                    break
                time.sleep(0.005)
        _signal.signal(signal.SIGTERM, _signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    _signal.signal(signal.SIGTERM, on_term)


def format_seconds(seconds):
    return ("%d" % seconds) if float(seconds).is_integer() else ("%.1f" % seconds)


class Escalation:
    """The parent's plan to end one child: (optional wait) → TERM → KILL, to its process group.

    `reason` says why in the failure record ("timed out after 5 s", "worker shutting down
    (SIGTERM)", "stopped by SIGUSR1"). `pgid` is the child's pid, or a function that returns
    it once known (a fork server's child may not have it yet: a due step then waits for it).
    """
    PID_POLL = 0.05  # how often a due step looks again for a pid not known yet

    def __init__(self, pgid, reason, term_at, kill_after):
        self._pgid = pgid
        self.reason = reason
        self.term_at = term_at
        self.kill_at = term_at + kill_after
        self.kill_after = kill_after
        self.sent = []

    @property
    def pgid(self):
        return self._pgid() if callable(self._pgid) else self._pgid

    @classmethod
    def start(cls, pgid, reason, wait, kill_after, now=None):
        now = time.monotonic() if now is None else now
        return cls(pgid, reason, now + wait, kill_after)

    def next_at(self):
        if signal.SIGKILL in self.sent:
            return None
        return self.kill_at if signal.SIGTERM in self.sent else self.term_at

    def step(self, now=None):
        """Send whatever is due; returns the signal sent, if any."""
        now = time.monotonic() if now is None else now
        due = self.next_at()
        if due is None or now < due:
            return None
        pgid = self.pgid
        if not pgid:  # not forked yet: look again soon, the chain keeps its intervals
            self.term_at = max(self.term_at, now + self.PID_POLL)
            self.kill_at = max(self.kill_at, self.term_at + self.kill_after)
            return None
        sig = signal.SIGKILL if signal.SIGTERM in self.sent else signal.SIGTERM
        kill_group(pgid, sig)
        self.sent.append(sig)
        return sig


def kill_group(pgid, sig):
    """Signal a child's whole process group (it and any grandchildren); gone is fine, and so
    is a child whose pid the fork server has not told yet (None)."""
    if not pgid:
        return False
    if sig == signal.SIGTERM:
        order_term(pgid)
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        try:
            os.kill(pgid, sig)
            return True
        except OSError:
            return False


def describe_status(status):
    """A wait status in words: 'exited with status 3', 'killed by SIGKILL (signal 9)'."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        text = "killed by %s (signal %d)" % (signal_name(sig), sig)
        if os.WCOREDUMP(status):
            text += ", core dumped"
        return text
    if os.WIFEXITED(status):
        return "exited with status %d" % os.WEXITSTATUS(status)
    if os.WIFSTOPPED(status):
        return "stopped by %s" % signal_name(os.WSTOPSIG(status))
    return "ended with wait status %d" % status
