"""The suite's fixtures: a real redis-server started on a free loopback port (never 6379), a
clean client on it, and the real `forkq work` process. The helpers live in
tests/support/harness.py; the job modules workers load with `-r` live beside it."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))

from harness import RedisServer, WorkerProcess  # noqa: E402
from schedharness import spawn_scheduler  # noqa: E402,F401  (the scheduler's fixture)


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer()
    yield server
    server.cleanup()


@pytest.fixture
def r(redis_server):
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def url(redis_server):
    return redis_server.url


@pytest.fixture
def spawn_worker(url):
    """spawn_worker("-q", "default", ...) → a running WorkerProcess (stopped at teardown).
    `-r workerjobs` is added unless the test passes its own --require."""
    started = []

    def spawn(*args, env=None, url_override=None):
        args = list(args)
        if "-r" not in args and "--require" not in args:
            args += ["-r", "workerjobs"]
        worker = WorkerProcess(url_override or url, args, env)
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        worker.stop()
