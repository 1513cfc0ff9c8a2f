"""Unique jobs with the real worker and a real Redis: an identical job (class, args, queue) is
refused while one holds the lock, each mode frees it when its semantics say, every outcome
frees it, and a crash leaves it only until its TTL."""
import json
import os
import signal
import subprocess
import sys
import time

import jobs_retry  # noqa: F401  (registers the jobs here too: their queues and options)
import pytest
import redis
from harness import SUPPORT, pop, wait_until, worker_env

from forkq.api.enqueue import Producer
from forkq.wire import retry_keys

WORKER = ("-q", "uniq", "-r", "jobs_retry", "--interval", "0.2")


@pytest.fixture
def producer(url):
    client = redis.Redis.from_url(url)
    yield Producer(client, "resque")
    client.close()


def lock_of(job, *args, queue="uniq"):
    return "resque:" + retry_keys.queue_lock_key(job, queue, list(args))


def go(r, tag):
    r.rpush("test:go:%s" % tag, "1")


def test_until_executing_refuses_until_the_job_starts(r, producer, spawn_worker):
    assert producer.enqueue("UntilExecuting", "a") is True
    assert producer.enqueue("UntilExecuting", "a") is False
    assert "still locked" in producer.refused and "until_executing" in producer.refused
    assert producer.enqueue("UntilExecuting", "b") is True  # other args: another job
    assert producer.enqueue("UntilExecuting", "a", queue="other") is True  # another queue
    lock = lock_of("UntilExecuting", "a")
    assert 3590 < r.ttl(lock) <= 3600 and int(r.get(lock)) > time.time()  # node's value
    assert r.llen("resque:queue:uniq") == 2
    spawn_worker(*WORKER)
    assert pop(r, "test:started")["tag"] == "a"
    assert not r.exists(lock)
    assert producer.enqueue("UntilExecuting", "a") is True  # running: no longer locked
    go(r, "a")
    go(r, "b")
    go(r, "a")
    for _ in range(3):
        pop(r, "test:done")


@pytest.mark.parametrize("outcome", ["ok", "raise", "kill"])
def test_until_executed_holds_until_any_end(r, producer, spawn_worker, outcome):
    assert producer.enqueue("UntilExecuted", "x", outcome) is True
    spawn_worker(*WORKER)
    pop(r, "test:started")
    assert producer.enqueue("UntilExecuted", "x", outcome) is False  # running: still locked
    go(r, "x")
    wait_until(lambda: not r.exists(lock_of("UntilExecuted", "x", outcome)),
               message="the lock to go with the job")
    assert r.llen("resque:failed") == (0 if outcome == "ok" else 1)
    go(r, "x")  # the next run need not wait
    assert producer.enqueue("UntilExecuted", "x", outcome) is True


def test_a_crashed_worker_leaves_the_lock_only_until_its_ttl(r, producer, spawn_worker):
    assert producer.enqueue("UntilExecuted", "c") is True  # lock_ttl=2
    worker = spawn_worker(*WORKER)
    pop(r, "test:started")
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its child: nobody records
    worker.wait(5)
    assert producer.enqueue("UntilExecuted", "c") is False
    wait_until(lambda: not r.exists(lock_of("UntilExecuted", "c")), timeout=4,
               message="the lock's TTL")
    assert producer.enqueue("UntilExecuted", "c") is True


def test_the_worker_that_prunes_a_dead_one_frees_its_jobs_lock(r, producer, spawn_worker):
    assert producer.enqueue("UntilExecutedLong", "p") is True  # lock_ttl=600
    first = spawn_worker(*WORKER)
    pop(r, "test:started")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(5)
    assert producer.enqueue("UntilExecutedLong", "p") is False
    r.delete("resque:pruning_dead_workers_in_progress")  # the first one's prune period is over
    spawn_worker(*WORKER)  # prunes at start-up: the job failed (DirtyExit), its lock goes
    wait_until(lambda: r.llen("resque:failed") == 1, message="the pruned job's record")
    assert not r.exists(lock_of("UntilExecutedLong", "p"))
    assert producer.enqueue("UntilExecutedLong", "p") is True
    go(r, "p")


def test_a_retried_unique_job_keeps_its_lock_until_it_is_done(r, producer, spawn_worker):
    assert producer.enqueue("UniqueRetry", "d") is True
    spawn_worker(*WORKER)
    pop(r, "test:done")
    assert json.loads(r.lindex("test:lock_seen:d", 0))["locked"] is True  # during the retry
    wait_until(lambda: not r.exists(lock_of("UniqueRetry", "d")), message="the lock to go")
    assert not r.exists("resque:" + retry_keys.retry_key("UniqueRetry", ["d"]))
    assert r.llen("resque:failed") == 0
    assert producer.enqueue("UniqueRetry", "d") is True


def test_while_executing_runs_one_at_a_time(r, producer, spawn_worker):
    assert producer.enqueue("WhileExecuting", "w") is True
    assert producer.enqueue("WhileExecuting", "w") is True  # no lock at enqueue
    workers = [spawn_worker(*WORKER, "--verbose", "--scheduler", "--scheduler-interval", "0.2")
               for _ in range(2)]  # one is the scheduler's master, one stands by
    pop(r, "test:done", timeout=10)
    pop(r, "test:done", timeout=10)
    spans = [json.loads(x) for x in r.lrange("test:spans:w", 0, -1)]
    assert [s["edge"] for s in spans] == ["start", "end", "start", "end"]  # never overlapped
    wait_until(lambda: not r.exists("resque:" + retry_keys.job_lock_key(
        "WhileExecuting", "uniq", ["w"])), message="the lock to go with the job's record")
    assert r.llen("resque:failed") == 0
    # both workers started at once, so the second found its twin running and deferred it
    assert "an identical job is running" in workers[0].log + workers[1].log


def test_forkq_enqueue_says_why_it_refused(r, url):
    def cli():
        return subprocess.run([sys.executable, "-m", "forkq", "enqueue", "UntilExecuted", "q",
                               "-r", "jobs_retry", "--redis-url", url, "--json"],
                              env=worker_env(url), cwd=SUPPORT, capture_output=True, text=True)
    assert json.loads(cli().stdout)["enqueued"] is True
    refused = json.loads(cli().stdout)
    assert refused["enqueued"] is False and "still locked" in refused["reason"]


def test_a_start_asked_again_after_a_lost_reply_finds_its_own_lock(r):
    """The worker retries a start whose reply it lost: the same claim gets its own
    while_executing lock back and the same attempt; a twin's claim is refused."""
    from forkq.store.retries import RetryStore
    from forkq.wire import Keys
    store = RetryStore(r, Keys("resque"))
    lock, counter = "workerslock:J:q:[1]", "resque-retry:J:x"
    assert store.start(counter, None, lock, 30, "sha-one") == (0, True)
    assert store.start(counter, None, lock, 30, "sha-one") == (0, True)  # not counted twice
    assert store.start(counter, None, lock, 30, "sha-two") == (None, False)
    value = r.get("resque:" + lock).decode()
    assert value.endswith(":sha-one") and int(value.split(":")[0]) > time.time()
    assert r.get("resque:" + counter) == b"0"
