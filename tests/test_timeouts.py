"""Timeouts always fire, whatever the job does: the child's alarm raises JobTimeout (a
BaseException, so `except Exception` cannot swallow it); a job that masks or ignores the alarm
is ended by the parent's TERM then KILL to the child's whole process group, grandchildren
included. Each test fails without its mechanism (named in the test)."""
import time

import pytest

from conftest import alive, enqueue_raw, failures, pop

GRACE, TERM_TIMEOUT, TIMEOUT = 1, 1, 1
BUDGET = TIMEOUT + GRACE + TERM_TIMEOUT + 1.5  # + process start and record


def run_one(r, spawn_worker, job, *extra):
    enqueue_raw(r, "default", {"class": job, "args": []})
    worker = spawn_worker("-q", "default", "--burst", "--grace", str(GRACE), "--term-timeout",
                          str(TERM_TIMEOUT), *extra)
    started = pop(r, "test:started")
    began = time.monotonic()
    assert worker.wait(20) == 0, worker.log
    return started, time.monotonic() - began, failures(r)


def test_except_exception_cannot_swallow_the_timeout(r, spawn_worker):
    # mechanism: JobTimeout derives from BaseException
    _started, took, [entry] = run_one(r, spawn_worker, "SwallowTimeout")
    assert took < TIMEOUT + 1.5
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
    # mechanism: --max-child-rss polls the child's RSS with psutil and escalates
    enqueue_raw(r, "default", {"class": "Hog", "args": [200]})
    worker = spawn_worker("-q", "default", "--burst", "--max-child-rss", "100",
                          "--term-timeout", "1")
    pop(r, "test:started", timeout=20)
    assert worker.wait(20) == 0
    [entry] = failures(r)
    assert entry["error"].startswith("memory limit: child used")
    assert "> --max-child-rss 100 MB" in entry["error"] and "killed by SIGTERM" in entry["error"]
