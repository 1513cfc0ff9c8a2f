"""A stalled Redis (another client's DEBUG SLEEP) must not hold up the parent's loop: a job's
timeout chain (alarm, TERM, KILL to the group) and the worker's own signals act on time, since
heartbeat and prune wait for Redis at most until the loop's next deadline (worker/beat.py).

The worker's Redis is a server of the test's own (the one that stalls); the jobs report to the
suite's server, which never stalls."""
import signal
import threading
import time

import pytest
from harness import RedisServer, alive, enqueue_raw, failures, pop, registered_id, wait_until

STALL = 15


@pytest.fixture
def stalling():
    srv = RedisServer(extra=("--enable-debug-command", "yes"))
    yield srv
    srv.cleanup()


def stall(server, seconds=STALL):
    """Another client stalls the whole server (DEBUG SLEEP), in a thread; returns it."""
    def sleep():
        c = server.client()
        try:
            c.execute_command("DEBUG", "SLEEP", seconds)
        finally:
            c.close()
    thread = threading.Thread(target=sleep, daemon=True)
    thread.start()
    time.sleep(0.2)  # the server has taken the command: everyone else now waits
    return thread


def start(spawn_worker, stalling, url, *args):
    return spawn_worker("-q", "default", "--heartbeat-interval", "1", "--prune-interval", "5",
                        "--interval", "0.2", *args, url_override=stalling.url,
                        env={"FORKQ_TEST_REDIS_URL": url})


def test_a_job_times_out_on_time_while_redis_stalls(stalling, r, url, spawn_worker):
    # BlockInC: timeout 1, blocks SIGALRM and SIGTERM in a C sleep: only the parent's KILL
    # ends it, at timeout + --grace + --term-timeout = 1 + 0.5 + 1 s. Before, the parent sat
    # in a heartbeat for the whole stall and the child lived as long as the stall.
    client = stalling.client()
    worker = start(spawn_worker, stalling, url, "--grace", "0.5", "--term-timeout", "1")
    wid = registered_id(client, worker.pid)
    enqueue_raw(client, "default", {"class": "BlockInC", "args": []})
    started = pop(r, "test:started", timeout=20)
    began = time.monotonic()
    thread = stall(stalling)
    wait_until(lambda: not alive(started["pid"]), timeout=STALL - 5,
               message="the job's child killed on time during the stall\n" + worker.log[-2000:])
    assert time.monotonic() - began < 2.5 + 5  # its deadline, plus slack for a loaded machine
    thread.join(STALL + 5)
    # and once Redis answers again, the job is recorded once, as timed out
    wait_until(lambda: len(failures(client)) == 1 and client.get("resque:worker:" + wid) is None,
               timeout=15, message="the timed-out job recorded")
    [failure] = failures(client)
    assert failure["exception"] == "forkq.JobTimeout"
    assert worker.alive()
    client.close()


def test_term_acts_within_seconds_while_redis_stalls(stalling, r, url, spawn_worker):
    # A heartbeat is in flight when TERM comes (every second, and the stall is 15 s): the
    # parent acts on TERM within the tick's bound (2 s), not when Redis answers.
    client = stalling.client()
    worker = start(spawn_worker, stalling, url)
    wid = registered_id(client, worker.pid)
    enqueue_raw(client, "default", {"class": "Sleep", "args": [60, "stall"]})
    started = pop(r, "test:started", timeout=20)
    thread = stall(stalling)
    time.sleep(1.5)  # a heartbeat is now waiting on the stalled server
    sent = time.monotonic()
    worker.signal(signal.SIGTERM)
    wait_until(lambda: not alive(started["pid"]), timeout=STALL - 5,
               message="the job's child ended after TERM during the stall")
    assert time.monotonic() - sent < 5.0, "TERM waited for Redis"  # before: ~14 s
    assert "received SIGTERM" in worker.log
    thread.join(STALL + 5)
    assert worker.wait(30) == 0
    [failure] = failures(client)  # recorded once Redis answered: one record, not lost
    assert failure["exception"] == "Resque::DirtyExit" and "SIGTERM" in failure["error"]
    assert not client.sismember("resque:workers", wid)
    client.close()


def test_an_idle_worker_acts_on_term_while_its_reserve_waits_on_a_stalled_redis(
        stalling, r, url, spawn_worker):
    # Idle with a 0.2 s poll, the worker is in a record-and-reserve round trip when the stall
    # begins. That call's wait is bounded too (a late reply is fenced, so giving up on it is
    # safe): TERM is acted on within seconds, not when Redis answers.
    client = stalling.client()
    worker = start(spawn_worker, stalling, url)
    wid = registered_id(client, worker.pid)
    thread = stall(stalling)
    time.sleep(1.0)  # a reserve is now waiting on the stalled server
    sent = time.monotonic()
    worker.signal(signal.SIGTERM)
    wait_until(lambda: "received SIGTERM" in worker.log, timeout=STALL - 3,
               message="TERM acted on during the stall\n" + worker.log[-2000:])
    assert time.monotonic() - sent < 6.0, "TERM waited for Redis"  # before: ~14 s
    thread.join(STALL + 5)
    assert worker.wait(30) == 0
    wait_until(lambda: not client.sismember("resque:workers", wid), timeout=15,
               message="the worker unregistered once Redis answered, or was pruned")
    client.close()
