"""The real `forkq scheduler` in a subprocess, for the scheduler's tests, and the lock's
value as a scheduler with a given pid writes it."""

import pytest

from harness import WorkerProcess

LOCK = "resque:resque:resque_scheduler_master_lock"


class SchedulerProcess(WorkerProcess):
    """The real `forkq scheduler` in a subprocess, its log in a file."""
    COMMAND = "scheduler"

    @property
    def lock_value(self):
        from forkq.scheduler.lock import lock_hostname
        return ("%s:%d" % (lock_hostname(), self.pid)).encode()


@pytest.fixture
def spawn_scheduler(url):
    started = []

    def spawn(*args, env=None):
        proc = SchedulerProcess(url, args, env)
        started.append(proc)
        return proc

    yield spawn
    for proc in started:
        proc.stop()
