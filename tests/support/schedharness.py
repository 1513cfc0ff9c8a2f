"""The real `forkq scheduler` in a subprocess, for the scheduler's tests, and the lock's
value as a scheduler with a given pid writes it."""
import os
import signal
import subprocess
import sys
import tempfile

import pytest

from harness import SUPPORT, worker_env

LOCK = "resque:resque:resque_scheduler_master_lock"


class SchedulerProcess:
    def __init__(self, url, args=(), env=None):
        self.log_path = tempfile.mktemp(prefix="forkq-scheduler-", suffix=".log")
        self.log_file = open(self.log_path, "w")
        cmd = [sys.executable, "-m", "forkq", "scheduler", "--redis-url", url] + list(args)
        self.proc = subprocess.Popen(cmd, env=worker_env(url, env), cwd=SUPPORT,
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid

    @property
    def lock_value(self):
        from forkq.scheduler.lock import lock_hostname
        return ("%s:%d" % (lock_hostname(), self.pid)).encode()

    def signal(self, sig):
        os.kill(self.pid, sig)

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout=15):
        return self.proc.wait(timeout)

    @property
    def log(self):
        if not self.log_file.closed:
            self.log_file.flush()
        with open(self.log_path) as fh:
            return fh.read()

    def stop(self):
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.wait(5)
        self.log_file.close()


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
