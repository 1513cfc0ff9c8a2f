"""Signal handling for the parent: handlers only record and wake the loop; the loop acts.

The wake-up fd (signal.set_wakeup_fd) makes select() in the parent's loop return the moment a
signal arrives, including SIGCHLD when a child exits, so there is no sleep to wait out and no
thread. The table below is the contract; README.rst and man/forkq-work.1 carry the same words.
"""
import collections
import os
import signal

import _signal  # the C functions behind signal's wrappers: see reset_in_child

SIGNALS = (
    (signal.SIGQUIT, "QUIT", "finish the current job, then unregister and exit 0"),
    (signal.SIGTERM, "TERM", "stop now: the child gets --shutdown-timeout to finish, then TERM, "
                             "then KILL after --term-timeout; unregister and exit 0 "
                             "(with --graceful-term: as QUIT)"),
    (signal.SIGINT, "INT", "as TERM"),
    (signal.SIGUSR1, "USR1", "stop the current job (TERM, then KILL after --term-timeout), "
                             "record it as failed and keep working"),
    (signal.SIGUSR2, "USR2", "pause: finish the current job, then reserve nothing"),
    (signal.SIGCONT, "CONT", "resume after USR2"),
    (signal.SIGCHLD, "CHLD", "a child ended: reap it (every child, also as PID 1)"),
)

HANDLED = tuple(sig for sig, _name, _what in SIGNALS)


class SignalBox:
    """Records signals for the loop. Owns the read end of the wake-up pipe."""

    def __init__(self):
        self._pending = collections.deque()
        self._r, self._w = os.pipe()
        for fd in (self._r, self._w):
            os.set_blocking(fd, False)
            os.set_inheritable(fd, False)
        self._old_wakeup = None
        self._handled = HANDLED

    def install(self, signals=HANDLED):
        self._handled = tuple(signals)
        self._old_wakeup = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        for sig in self._handled:
            signal.signal(sig, self._record)

    def _record(self, signum, _frame):
        self._pending.append(signum)

    def fileno(self):
        return self._r

    def take(self, drain=True):
        """Signals received since the last call, oldest first. `drain`: empty the wake-up
        pipe too (pass False when a select just said it holds nothing: the handlers record
        every signal themselves, the pipe only wakes the loop)."""
        if drain:
            try:
                while os.read(self._r, 512):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
        out = []
        while self._pending:
            out.append(self._pending.popleft())
        return out

    def reset_in_child(self):
        """After fork: default dispositions, no wake-up fd, nothing of the parent's kept.
        Through _signal, the C module: signal.signal's Python wrapper turns the old handler
        into an enum (an exception for each function handler), which in a fresh fork costs
        ~0.2 ms of page faults a child (measured)."""
        _signal.set_wakeup_fd(-1)
        for sig in self._handled:
            _signal.signal(sig, _signal.SIG_DFL)
        os.close(self._r)
        os.close(self._w)

    def restore(self):
        for sig in self._handled:
            signal.signal(sig, signal.SIG_DFL)
        signal.set_wakeup_fd(self._old_wakeup if self._old_wakeup is not None else -1)


def name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "signal %d" % signum
