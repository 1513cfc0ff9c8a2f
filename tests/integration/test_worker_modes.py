"""--jobs-per-child, wake-ups of idle workers, and the documentation staying in step."""
import json
import os
import re
import signal

import psutil
from harness import ROOT, enqueue_raw, failures, pop, registered_id

import forkq
from forkq.config import OPTIONS


def test_jobs_per_child_keeps_records_and_timeouts_per_job(r, spawn_worker):
    for i in range(5):
        enqueue_raw(r, "default", {"class": "Record", "args": [i]})
    enqueue_raw(r, "default", {"class": "Fail", "args": ["third"]})
    enqueue_raw(r, "default", {"class": "QuickTimeout", "args": [30]})
    enqueue_raw(r, "default", {"class": "Exit", "args": [3]})
    for i in range(5, 8):
        enqueue_raw(r, "default", {"class": "Record", "args": [i]})
    worker = spawn_worker("-q", "default", "--burst", "--jobs-per-child", "4")
    assert worker.wait(30) == 0, worker.log
    done = [pop(r, "test:done") for _ in range(8)]
    assert [d["args"][0] for d in done] == list(range(8))
    pids = [d["pid"] for d in done]
    assert pids[0] == pids[1] == pids[2] == pids[3]  # one child performed several jobs
    assert len(set(pids)) < len(pids)
    assert [(e["exception"], e["payload"]["class"]) for e in failures(r)] == [
        ("ValueError", "Fail"), ("forkq.JobTimeout", "QuickTimeout"),
        ("Resque::DirtyExit", "Exit")]
    assert r.get("resque:stat:processed") == b"11"
    assert r.get("resque:stat:failed") == b"2"


def test_idle_worker_wakes_for_a_forkq_enqueue(r, spawn_worker):
    # A 60 s poll interval: only the wake-up channel can start this job before the deadline.
    worker = spawn_worker("-q", "default", "--interval", "60")
    registered_id(r, worker.pid)
    forkq.Producer(r).enqueue("Record", "woken", queue="default")
    assert pop(r, "test:done", timeout=10)["args"] == ["woken"]


def test_idle_worker_wakes_on_keyspace_notifications_from_any_producer(r, spawn_worker):
    r.config_set("notify-keyspace-events", "Kl")
    try:
        worker = spawn_worker("-q", "default", "--interval", "60")
        registered_id(r, worker.pid)
        enqueue_raw(r, "default", {"class": "Record", "args": ["ruby-style push"]})
        assert pop(r, "test:done", timeout=10)["args"] == ["ruby-style push"]
    finally:
        r.config_set("notify-keyspace-events", "")


def test_wake_ups_for_other_queues_are_ignored(r, spawn_worker):
    worker = spawn_worker("-q", "default", "--interval", "60", "-v")
    registered_id(r, worker.pid)
    forkq.Producer(r).enqueue("Record", "elsewhere", queue="other")
    forkq.Producer(r).enqueue("Record", "here", queue="default")
    assert pop(r, "test:done", timeout=10)["args"] == ["here"]
    assert r.llen("resque:queue:other") == 1


def test_pidfile_written_and_removed(r, spawn_worker, tmp_path):
    path = tmp_path / "forkq.pid"
    worker = spawn_worker("-q", "default", "--pidfile", str(path), "--interval", "0.1")
    registered_id(r, worker.pid)
    assert path.read_text() == str(worker.pid)
    worker.signal(signal.SIGQUIT)
    assert worker.wait(10) == 0
    assert not path.exists()


def test_the_options_reference_documents_every_option():
    # the options reference is the man page (README.rst points to it), generated from OPTIONS
    with open(os.path.join(ROOT, "man", "forkq-work.1")) as fh:
        page = fh.read()
    for opt in OPTIONS:
        for flag in opt.flags:
            assert "\\fB%s\\fR" % flag.replace("-", "\\-") in page, flag
        for env in opt.env:
            assert env.rstrip("?") in page, env
        if opt.default not in (None, False, (), ""):
            assert "default: %s]" % str(opt.default).replace("-", "\\-") in page, opt.name


def _fork_server_pid(worker_pid):
    import psutil
    for proc in psutil.Process(worker_pid).children():
        if "Fork server for %d" % worker_pid in " ".join(proc.cmdline()):
            return proc.pid
    return None


def test_direct_forking_records_the_same_outcomes(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "Record", "args": [1]})
    enqueue_raw(r, "default", {"class": "Fail", "args": ["boom"]})
    enqueue_raw(r, "default", {"class": "Kill", "args": ["SIGKILL"]})
    enqueue_raw(r, "default", {"class": "QuickTimeout", "args": [30]})
    worker = spawn_worker("-q", "default", "--burst", "--no-fork-server")
    assert worker.wait(20) == 0, worker.log
    assert pop(r, "test:done")["args"] == [1]
    assert [e["exception"] for e in failures(r)] == ["ValueError", "Resque::DirtyExit",
                                                     "forkq.JobTimeout"]


def test_jobs_come_from_the_fork_server_not_the_worker(r, spawn_worker):
    import psutil
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "fs"]})
    worker = spawn_worker("-q", "default")
    child = pop(r, "test:started")["pid"]
    server = _fork_server_pid(worker.pid)
    assert server is not None and psutil.Process(child).ppid() == server
    assert not any(w.decode().split(":")[1] == str(server)
                   for w in r.smembers("resque:workers"))


def _forked_ahead(server):
    found = []
    for proc in psutil.Process(server).children():
        try:  # the last job's child may be exiting while we look
            title = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if "Ready for a job (fork server %d)" % server in title:
            found.append(proc)
    return found


def test_the_next_child_is_forked_ahead_and_losing_it_costs_no_job(r, spawn_worker):
    # The fork server forks each job's child before the job comes (it gets ready meanwhile);
    # one killed while it waits is replaced, and the job it would have had still runs.
    from harness import wait_until
    worker = spawn_worker("-q", "default", "--interval", "0.1")
    registered_id(r, worker.pid)
    server = _fork_server_pid(worker.pid)
    wait_until(lambda: len(_forked_ahead(server)) == 1, message="a child forked ahead")
    spare = _forked_ahead(server)[0]
    # not a worker to the pgrep docs/operating.rst gives for finding workers
    assert not re.search(r"forkq[^:]*: (Waiting|Processing|Forked|Paused)",
                         " ".join(spare.cmdline()))  # a spare lives until its job comes
    spare.send_signal(signal.SIGKILL)
    spare.wait(5)
    enqueue_raw(r, "default", {"class": "Record", "args": ["after the spare"]})
    done = pop(r, "test:done")
    assert done["args"] == ["after the spare"] and done["pid"] != spare.pid
    assert failures(r) == []
    enqueue_raw(r, "default", {"class": "Record", "args": ["ahead again"]})
    assert pop(r, "test:done")["args"] == ["ahead again"]
    wait_until(lambda: len(_forked_ahead(server)) == 1, message="forked ahead again")
    assert worker.alive(), worker.log


def test_worker_carries_on_when_the_fork_server_dies(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "orphaned"]})
    worker = spawn_worker("-q", "default", "--interval", "0.1")
    pop(r, "test:started")
    os.kill(_fork_server_pid(worker.pid), signal.SIGKILL)
    # the running child dies with it (PDEATHSIG); its job is recorded, and work goes on
    from harness import wait_until
    wait_until(lambda: r.llen("resque:failed") == 1, message="the lost child's job recorded")
    assert failures(r)[0]["exception"] == "Resque::DirtyExit"
    enqueue_raw(r, "default", {"class": "Record", "args": ["after the server"]})
    assert pop(r, "test:done")["args"] == ["after the server"]
    assert "fork server" in worker.log and worker.alive()


def test_before_fork_hooks_run_in_the_process_that_forks_the_job(r, spawn_worker):
    # mechanism: with before_first_fork/before_fork hooks registered, cli.start_forker starts
    # no fork server, so children are forked by the worker, after its hooks ran
    worker = spawn_worker("-q", "default", "-r", "workerjobs", "-r", "hooks_w2")
    registered_id(r, worker.pid)
    enqueue_raw(r, "default", {"class": "W2::HookProbe", "args": []})
    done = pop(r, "test:done", timeout=15)
    assert done["preloaded"] == "preloaded in %d" % worker.pid  # before_first_fork's work
    assert done["before_fork_pid"] == done["ppid"] == worker.pid  # before_fork in the parent
    assert failures(r) == []
    assert "no fork server" in worker.log
    titles = []
    for proc in psutil.Process(worker.pid).children():
        try:
            titles.append(" ".join(proc.cmdline()))
        except psutil.Error:  # a child just exiting
            pass
    assert not any("Fork server" in t for t in titles) and any("Guard for" in t for t in titles)


def test_the_fork_server_carries_neither_redis_py_nor_psutil(r, spawn_worker, tmp_path):
    # The point of the fork server: children forked from a process without redis-py's import
    # (and asyncio's), so forks copy fewer page tables. Every command module is imported at
    # start-up, so a top-level `import redis` anywhere in them would undo it. Nor click, nor
    # logging, nor random: their at-fork handlers would run Python in every child.
    out = str(tmp_path / "modules.json")
    enqueue_raw(r, "default", {"class": "Lean::Modules", "args": [out]})
    worker = spawn_worker("-q", "default", "--burst", "-r", "jobs_lean")
    assert worker.wait(30) == 0, worker.log
    with open(out) as fh:
        assert json.load(fh) == []
