"""Reaping a job's child, and ending whatever the job left behind.

One routine for every process that forks job children (the fork server, the worker forking
them itself, a child that takes several jobs): see that the child ended without reaping it
(waitid WNOWAIT: the zombie keeps its process group id, so the id cannot go to another process
meanwhile), SIGKILL its group (grandchildren that stayed in it), end the strays, then wait4
for the status and the child's peak RSS and CPU.

Strays: the process that forks children is a child subreaper (kernel.become_subreaper), so a
descendant whose parent died, one in a session of its own that ignores every signal included,
is re-parented to it rather than to init. Any child of ours we did not fork as a job child
(nor as a helper, KEEP) and that started no earlier than the ended child is such a descendant.
"""
import os
import signal
import sys
import time

from forkq.proc import timeouts

KEEP = set()        # this process's own helpers (fork server, guard): never strays
SWEEP_WAIT = 0.5    # at most this long per sweep waiting for KILLed strays to be reapable


def reap(pid, block=False, keep=(), before_wait=None):
    """None while `pid` runs; once it has ended, (wait status, peak RSS KB, CPU seconds),
    with its group and its strays killed first. Status -1: reaped elsewhere, unknown."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | (0 if block else os.WNOHANG))
    except ChildProcessError:
        return -1, None, None
    if info is None:
        return None
    timeouts.kill_group(pid, signal.SIGKILL)
    sweep(keep, since=pid, ended=pid)
    if before_wait is not None:
        before_wait(pid)
    try:
        _pid, status, usage = os.wait4(pid, 0)
    except ChildProcessError:
        return -1, None, None
    return status, usage.ru_maxrss, round(usage.ru_utime + usage.ru_stime, 4)


def sweep(keep=(), since=None, ended=None):
    """SIGKILL and reap every stray child (see above) started no earlier than the process
    `since` (None: any). Returns how many were ended."""
    ended_count = 0
    deadline = None
    while True:
        strays = [p for p in child_pids() if p != ended and p not in keep and p not in KEEP]
        if strays and since is not None:
            started = start_time(since)  # the zombie's entry still says it
            strays = [p for p in strays if start_time(p) >= started]
        if not strays:
            return ended_count
        for pid in strays:
            _kill(pid)
        left = []
        for pid in strays:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    left.append(pid)
                else:
                    ended_count += 1
            except ChildProcessError:
                pass
        if left:
            deadline = deadline or time.monotonic() + SWEEP_WAIT
            if time.monotonic() > deadline:
                return ended_count  # reaped by a later sweep (uninterruptible sleep, say)
            time.sleep(0.001)


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.killpg(pid, signal.SIGKILL)  # a stray that leads a group takes its group along
    except (ProcessLookupError, PermissionError):
        pass


def child_pids():
    """Our children's pids (alive and zombies), from the kernel's list (no psutil: the fork
    server must stay lean); by scanning /proc where that list is not built in."""
    pids = set()
    threads = sys.modules.get("threading")
    try:
        if threads is None or threads.active_count() == 1:  # one thread: one list to read
            # os-level calls, no file object: this runs at every reap, on the fork path
            fd = os.open("/proc/self/task/%d/children" % os.getpid(), os.O_RDONLY)
            try:
                return {int(p) for p in os.read(fd, 1 << 20).split()}
            finally:
                os.close(fd)
        for tid in os.listdir("/proc/self/task"):
            with open("/proc/self/task/%s/children" % tid, "rb") as fh:
                pids.update(int(p) for p in fh.read().split())
        return pids
    except (OSError, ValueError):
        pass
    me = os.getpid()
    for name in os.listdir("/proc"):
        if name.isdigit() and _stat(int(name), 1) == me:
            pids.add(int(name))
    return pids


def start_time(pid):
    """When `pid` started, in clock ticks since boot (0 if it is gone)."""
    return _stat(pid, 19) or 0


def _stat(pid, index):
    """Field `index` of /proc/PID/stat counted from the state (0) after the command name."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as fh:
            return int(fh.read().rsplit(b")", 1)[1].split()[index])
    except (OSError, ValueError, IndexError):
        return None
