"""What a job's descendants do cannot change its record or hold the worker (issue 12, items 7
and 9): a grandchild that leaves the job's group and ignores signals ends with the job; a copy
of the child that a job forks and returns from never reports."""
import os
import signal

import pytest
from harness import alive, enqueue_raw, failures, pop, registered_id, wait_until

MODES = {"fork server": (), "no fork server": ("--no-fork-server",),
         "jobs per child": ("--jobs-per-child", "3")}


@pytest.mark.parametrize("mode", list(MODES))
def test_a_grandchild_in_its_own_session_ends_with_the_job(r, spawn_worker, mode):
    enqueue_raw(r, "default", {"class": "Escapee", "args": []})
    enqueue_raw(r, "default", {"class": "Record", "args": ["next"]})
    worker = spawn_worker("-q", "default", "-r", "workerjobs", "-r", "jobs_escape",
                          "--interval", "0.1", *MODES[mode])
    grandchild = pop(r, "test:escapee")["grandchild"]
    assert pop(r, "test:done", timeout=10)["args"] == ["next"], worker.log
    wait_until(lambda: r.get("resque:stat:processed") == b"2", timeout=10,
               message="both jobs recorded")
    wait_until(lambda: not alive(grandchild), timeout=5, message="the grandchild to die")
    assert failures(r) == []
    assert worker.alive()


def test_a_grandchild_in_its_own_session_dies_with_a_killed_worker(r, spawn_worker):
    # mechanism: the fork server is the job's subreaper; when the worker dies it kills the
    # job's group, and the grandchild, re-parented to it, is killed as a stray
    enqueue_raw(r, "default", {"class": "Escapee", "args": [600, 600]})
    worker = spawn_worker("-q", "default", "-r", "workerjobs", "-r", "jobs_escape")
    grandchild = pop(r, "test:escapee")["grandchild"]
    worker.signal(signal.SIGKILL)
    worker.wait(10)
    wait_until(lambda: not alive(grandchild), timeout=10, message="the grandchild to die")


@pytest.mark.parametrize("mode", list(MODES))
def test_a_forked_copy_returning_from_perform_never_reports(r, spawn_worker, mode):
    enqueue_raw(r, "default", {"class": "ForkReturn", "args": []})
    for i in range(3):
        enqueue_raw(r, "default", {"class": "Record", "args": [i]})
    worker = spawn_worker("-q", "default", "-r", "workerjobs", "-r", "jobs_escape",
                          "--burst", *MODES[mode])
    assert worker.wait(30) == 0, worker.log
    assert sorted(pop(r, "test:done")["args"][0] for _ in range(3)) == [0, 1, 2]
    assert r.llen("test:done") == 0
    assert [(e["exception"], e["error"]) for e in failures(r)] == [
        ("ValueError", "the original failed")]
    assert r.get("resque:stat:processed") == b"4"
    assert r.get("resque:stat:failed") == b"1"


def test_the_worker_takes_signals_while_the_fork_server_is_stuck(r, spawn_worker):
    # issue 11 item 2: the worker used to wait up to 10 s for the fork server's answer without
    # taking signals; now it sends the job and waits in its one wait point
    from test_worker_modes import _fork_server_pid
    worker = spawn_worker("-q", "default", "--interval", "0.1", "--shutdown-timeout", "30")
    server = wait_until(lambda: _fork_server_pid(worker.pid), message="the fork server")
    registered_id(r, worker.pid)
    os.kill(server, signal.SIGSTOP)
    try:
        enqueue_raw(r, "default", {"class": "Record", "args": ["stuck"]})
        wait_until(lambda: r.llen("resque:queue:default") == 0, message="the job reserved")
        worker.signal(signal.SIGTERM)
        wait_until(lambda: "received SIGTERM" in worker.log, timeout=3,
                   message="the worker to take the TERM")
    finally:
        os.kill(server, signal.SIGCONT)
    assert worker.wait(20) == 0, worker.log
    assert pop(r, "test:done")["args"] == ["stuck"]
    assert r.get("resque:stat:processed") == b"1" and failures(r) == []
