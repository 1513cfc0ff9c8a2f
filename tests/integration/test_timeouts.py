"""Timeouts always fire, whatever the job does: the child's alarm raises JobTimeout (a
BaseException, so `except Exception` cannot swallow it); a job that masks or ignores the alarm
is ended by the parent's TERM then KILL to the child's whole process group, grandchildren
included. Each test fails without its mechanism (named in the test)."""
import re
import time

import pytest
from harness import alive, enqueue_raw, failures, pop, wait_until

GRACE, TERM_TIMEOUT, TIMEOUT = 1, 1, 1
BUDGET = TIMEOUT + GRACE + TERM_TIMEOUT + 1.5  # + process start and record


def run_one(r, spawn_worker, job, *extra):
    """Run `job` alone; returns (its started marker, seconds from that marker until its
    failure was recorded, the failures). Timed to the record, not to the worker's exit, so a
    loaded machine's slow process exit does not count."""
    enqueue_raw(r, "default", {"class": job, "args": []})
    worker = spawn_worker("-q", "default", "--burst", "--grace", str(GRACE), "--term-timeout",
                          str(TERM_TIMEOUT), *extra)
    started = pop(r, "test:started")
    began = time.monotonic()
    wait_until(lambda: r.llen("resque:failed"), timeout=20, message="the failure record")
    took = time.monotonic() - began
    assert worker.wait(20) == 0, worker.log
    return started, took, failures(r)


def child_seconds(error):
    """The child's run time as the parent wrote it: "Child process N … after 3.0 s"."""
    found = re.search(r"Child process \d+ .* after ([0-9.]+) s", error)
    assert found, error
    return float(found.group(1))


def test_except_exception_cannot_swallow_the_timeout(r, spawn_worker):
    # mechanism: JobTimeout derives from BaseException
    _started, took, [entry] = run_one(r, spawn_worker, "SwallowTimeout")
    assert took < TIMEOUT + GRACE + 1.0  # the child's own alarm, before the parent's TERM
    assert entry["exception"] == "forkq.JobTimeout" and entry["error"] == "timed out after 1 s"


@pytest.mark.parametrize("job,signal_name", [("Stubborn", "SIGKILL"), ("BlockInC", "SIGKILL")])
def test_jobs_that_ignore_or_block_the_alarm_are_ended_by_the_parent(r, spawn_worker, job,
                                                                   signal_name):
    # mechanism: the parent's Escalation (TERM, then KILL after --term-timeout) to the group
    _started, took, [entry] = run_one(r, spawn_worker, job)
    assert took < BUDGET
    assert entry["exception"] == "forkq.JobTimeout"
    assert entry["error"].startswith("timed out after 1 s: Child process")
    assert "killed by %s" % signal_name in entry["error"]
    # TERM at timeout + grace, KILL --term-timeout later, as the parent measured it
    assert TIMEOUT + GRACE <= child_seconds(entry["error"]) < TIMEOUT + GRACE + TERM_TIMEOUT + 1


def test_no_grandchild_survives_a_timeout(r, spawn_worker):
    # mechanism: the child has its own process group; TERM/KILL and the reap go to the group
    started, took, [entry] = run_one(r, spawn_worker, "Grandchild")
    grandchild = started["grandchild"]
    assert entry["exception"] == "forkq.JobTimeout"
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)


def test_a_jobs_own_timeout_wins_over_the_default(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "QuickTimeout", "args": [5]})
    worker = spawn_worker("-q", "default", "--burst", "--timeout", "100")
    assert worker.wait(20) == 0
    assert failures(r)[0]["error"] == "timed out after 1 s"


def test_the_worker_timeout_applies_to_jobs_without_one(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "default-timeout"]})
    worker = spawn_worker("-q", "default", "--burst", "--timeout", "0.5")
    assert worker.wait(20) == 0
    assert failures(r)[0]["error"] == "timed out after 0.5 s"


def test_memory_guard_kills_a_child_over_the_limit(r, spawn_worker):
    # mechanism: --max-child-rss polls the child's RSS with psutil and escalates. Without it
    # the job would sleep 30 s after allocating and the worker would outlive the wait below.
    enqueue_raw(r, "default", {"class": "Hog", "args": [200]})
    worker = spawn_worker("-q", "default", "--burst", "--max-child-rss", "100",
                          "--term-timeout", "1")
    pop(r, "test:started", timeout=20)  # Hog reports before it allocates: the guard may win
    assert worker.wait(20) == 0, worker.log[-2000:]
    [entry] = failures(r)
    assert entry["error"].startswith("memory limit: child used")
    assert "> --max-child-rss 100 MB" in entry["error"] and "killed by SIGTERM" in entry["error"]
    used = float(re.match(r"memory limit: child used (\d+) MB", entry["error"]).group(1))
    assert used > 100
    assert r.llen("test:done") == 0
