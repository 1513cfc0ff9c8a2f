"""Jobs that try to outlive or outrun their record (tests of the fork path, `-r jobs_escape`).

They report through Redis lists under `test:` on the suite's server, as workerjobs does.
"""
import os
import signal
import time

import forkq
from workerjobs import mark


@forkq.job(name="Escapee")
def escapee(seconds=600, stay=0):
    """Leaves a grandchild in a session of its own that ignores every catchable signal and
    holds every fd the job's child had (the report pipe included), then returns (after `stay`
    seconds)."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT,
                    signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM):
            signal.signal(sig, signal.SIG_IGN)
        os.write(ready_w, b"x")
        time.sleep(seconds)
        os._exit(0)
    os.read(ready_r, 1)  # it has left the group and ignores signals
    mark("test:escapee", grandchild=pid)
    time.sleep(stay)


@forkq.job(name="ForkReturn")
def fork_return(delay=0.3):
    """Forks and lets the copy return from perform as if it were the job; the original fails a
    moment later. The job's record must be the original's failure."""
    if os.fork() == 0:
        return
    time.sleep(delay)
    raise ValueError("the original failed")
