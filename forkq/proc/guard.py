"""The guard: when the worker forks job children itself (--no-fork-server, --jobs-per-child
above 1, or worker hooks that must run where children are forked), a small process that kills
the children's process groups if the worker dies.

A job child dies with the worker (PR_SET_PDEATHSIG=SIGKILL), but whatever the job started (a
grandchild) lives in the child's process group and would run on. In the default mode the fork
server does this; here the guard does. It is forked from the CLI before forkq imports redis-py,
and shares one page with the worker (MAP_SHARED, made before the fork) where the worker keeps
the pids of its live children, which are their process group ids. The guard sleeps until the
worker is gone (its own parent-death signal is SIGHUP, which it can catch) or says goodbye,
then SIGKILLs every group on the page and exits. Per job the worker only writes one word.
"""
import mmap
import os
import select
import signal
import struct

from forkq.proc import helper, kernel, timeouts

SLOTS = 512  # live children at once; more than that go unguarded (still killed at reap)
_WORD = struct.Struct("=q")
_BYE = 0     # word 0: the worker is leaving; slots 1..SLOTS hold children's pids


class Guard:
    """The worker's end."""

    def __init__(self, pid, page):
        self.pid = pid
        self.page = page
        self.slots = {}                           # pgid -> its slot; only the worker writes
        self.free = list(range(SLOTS, 0, -1))     # free slots, lowest last (popped first)

    @classmethod
    def start(cls, titles):
        """From here on this process forks job children itself: it becomes their subreaper
        (forkq.proc.reap), and the guard covers them if it dies."""
        kernel.become_subreaper()
        page = mmap.mmap(-1, (SLOTS + 1) * _WORD.size)
        return cls(helper.start(titles, "Guard for %d", _guard, page), page)

    def watch(self, pgid):
        # One word written per job: this runs on the hot path of every spawn.
        if self.free and pgid not in self.slots:
            slot = self.free.pop()
            self.slots[pgid] = slot
            _WORD.pack_into(self.page, slot * _WORD.size, pgid)

    def forget(self, pgid):
        slot = self.slots.pop(pgid, None)
        if slot is not None:
            _WORD.pack_into(self.page, slot * _WORD.size, 0)
            self.free.append(slot)

    def stop(self):
        """The worker leaves: the guard ends whatever is still on the page, then exits."""
        _WORD.pack_into(self.page, _BYE * _WORD.size, 1)
        try:
            os.kill(self.pid, signal.SIGHUP)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _guard(box, parent_pid, page):
    # A SIGHUP from anyone else (a terminal's hangup) is recorded and ignored.
    while helper.parent_alive(parent_pid) and not _WORD.unpack_from(page, _BYE * _WORD.size)[0]:
        try:
            select.select((box,), (), ())
        except InterruptedError:
            pass
        box.take()
    for i in range(1, SLOTS + 1):
        pgid = _WORD.unpack_from(page, i * _WORD.size)[0]
        if pgid > 0:
            timeouts.kill_group(pgid, signal.SIGKILL)
