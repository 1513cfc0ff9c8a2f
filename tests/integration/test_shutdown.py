"""Shutdown that fits Heroku and Kubernetes, PID 1, and children that outlive their parent."""
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest
from harness import (
    SUPPORT,
    alive,
    enqueue_raw,
    failures,
    in_sleep,
    pop,
    wait_until,
    worker_env,
)


def test_term_to_the_group_twice_lets_the_job_finish_within_shutdown_timeout(r, spawn_worker):
    # mechanism: --shutdown-timeout delays the child's TERM; the child has its own process
    # group, so a TERM to the worker's group (Heroku, Ctrl-C) does not reach it directly
    enqueue_raw(r, "default", {"class": "Sleep", "args": [1, "finishes"]})
    worker = spawn_worker("-q", "default", "--shutdown-timeout", "10")
    pop(r, "test:started")
    os.killpg(worker.pid, signal.SIGTERM)
    os.killpg(worker.pid, signal.SIGTERM)
    assert worker.wait(15) == 0
    assert pop(r, "test:done")["tag"] == "finishes"
    assert failures(r) == [] and r.get("resque:stat:processed") == b"1"
    assert r.smembers("resque:workers") == set()


@pytest.mark.parametrize("mode", [(), ("--no-fork-server",)], ids=["fork-server", "direct"])
def test_term_to_every_process_as_heroku_sends_it_still_lets_the_job_finish(r, spawn_worker,
                                                                            mode):
    # mechanism: the child obeys only a TERM its parent marked (timeouts.order_term); without
    # it the child dies of the platform's TERM at once and the job fails
    enqueue_raw(r, "default", {"class": "Sleep", "args": [1, "survives"]})
    worker = spawn_worker("-q", "default", "--shutdown-timeout", "10", *mode)
    child = pop(r, "test:started")["pid"]
    everyone = [worker.pid] + [p.pid for p in psutil.Process(worker.pid).children(recursive=True)]
    assert child in everyone
    for _ in range(2):  # "possible to receive multiple SIGTERMs"
        for pid in everyone:
            os.kill(pid, signal.SIGTERM)
    assert worker.wait(15) == 0
    assert pop(r, "test:done")["tag"] == "survives"
    assert failures(r) == [] and r.get("resque:stat:processed") == b"1"


def test_a_term_to_the_child_alone_still_ends_the_job(r, spawn_worker):
    # mechanism: an unmarked TERM while the parent is not stopping is obeyed (after at most
    # timeouts.PLATFORM_WAIT); the worker records it and goes on
    enqueue_raw(r, "default", {"class": "Sleep", "args": [60, "operator"]})
    enqueue_raw(r, "default", {"class": "Record", "args": ["after"]})
    worker = spawn_worker("-q", "default")
    child = pop(r, "test:started")["pid"]
    wait_until(lambda: in_sleep(child), message="the job to sleep")
    os.kill(child, signal.SIGTERM)
    assert pop(r, "test:done")["args"] == ["after"]
    [entry] = failures(r)
    assert "killed by SIGTERM" in entry["error"] and entry["payload"]["args"][1] == "operator"
    worker.signal(signal.SIGQUIT)
    assert worker.wait(10) == 0


def test_a_job_that_cannot_finish_is_failed_with_the_reason(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "Sleep", "args": [60, "too long"]})
    worker = spawn_worker("-q", "default", "--shutdown-timeout", "0.5", "--term-timeout", "1")
    pop(r, "test:started")
    began = time.monotonic()
    os.killpg(worker.pid, signal.SIGTERM)
    assert worker.wait(15) == 0
    assert time.monotonic() - began < 0.5 + 1 + 2
    [entry] = failures(r)
    assert "worker shutting down (SIGTERM)" in entry["error"]
    assert r.llen("resque:queue:default") == 0


def test_requeue_on_shutdown_puts_the_job_back_at_the_head(r, spawn_worker):
    # mechanism: the cycle script's requeue branch (LPUSH, not processed, no failure)
    enqueue_raw(r, "default", {"class": "Sleep", "args": [60, "requeued"]})
    enqueue_raw(r, "default", {"class": "Record", "args": ["next"]})
    worker = spawn_worker("-q", "default", "--shutdown-timeout", "0.2", "--requeue-on-shutdown")
    pop(r, "test:started")
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert failures(r) == []
    assert r.lrange("resque:queue:default", 0, -1) == [
        b'{"class":"Sleep","args":[60,"requeued"]}', b'{"class":"Record","args":["next"]}']
    assert r.get("resque:stat:processed") is None


def test_a_child_stops_when_its_parent_dies_and_the_job_is_found_by_prune(r, spawn_worker):
    # mechanism: PR_SET_PDEATHSIG in the child (and in the fork server), prune by dead pid
    # The prune lock lasts one heartbeat interval (Resque's rule): keep it short here.
    fast = ("--heartbeat-interval", "1", "--prune-interval", "5")
    enqueue_raw(r, "default", {"class": "Sleep", "args": [60, "orphaned"]})
    worker = spawn_worker("-q", "default", *fast)
    child = pop(r, "test:started")["pid"]
    os.kill(worker.pid, signal.SIGKILL)  # the parent only
    worker.wait(10)
    wait_until(lambda: not alive(child), timeout=5, message="the child to stop")
    assert r.llen("test:done") == 0
    spawn_worker("-q", "default", *fast)
    wait_until(lambda: r.llen("resque:failed") == 1, timeout=10,
               message="the next worker's prune to record the job")
    [entry] = failures(r)
    assert entry["payload"]["args"] == [60, "orphaned"]
    assert "Job still being processed" in entry["error"] and "is gone" in entry["error"]


@pytest.mark.parametrize("mode", [(), ("--no-fork-server",), ("--jobs-per-child", "2")],
                         ids=["fork-server", "direct", "jobs-per-child"])
def test_a_jobs_own_children_die_with_a_killed_worker(r, spawn_worker, mode):
    # mechanism: the fork server (or, forking directly, the guard) has a catchable parent-death
    # signal and SIGKILLs every child's process group when the worker dies
    enqueue_raw(r, "default", {"class": "W2::Grandchild", "args": [60]})
    worker = spawn_worker("-q", "default", "-r", "workerjobs", "-r", "jobs_w2", *mode)
    started = pop(r, "test:started", timeout=15)
    child, grandchild = started["pid"], started["grandchild"]
    assert alive(grandchild)
    os.kill(worker.pid, signal.SIGKILL)  # the worker only: nothing can clean up after it
    worker.wait(10)
    wait_until(lambda: not alive(child), timeout=5, message="the child to die")
    wait_until(lambda: not alive(grandchild), timeout=5, message="the grandchild to die")


def test_after_the_fork_server_died_a_guard_takes_over(r, spawn_worker):
    # mechanism: falling back to forking from the worker starts a guard, so the fallback's
    # children are covered as the fork server's were
    from test_worker_modes import _fork_server_pid
    worker = spawn_worker("-q", "default", "--interval", "0.1", "-r", "workerjobs",
                          "-r", "jobs_w2")
    server = wait_until(lambda: _fork_server_pid(worker.pid), message="the fork server")
    os.kill(server, signal.SIGKILL)
    enqueue_raw(r, "default", {"class": "W2::Grandchild", "args": [60]})
    started = pop(r, "test:started", timeout=15)
    child, grandchild = started["pid"], started["grandchild"]
    assert psutil.Process(child).ppid() == worker.pid  # the fallback: forked by the worker
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    wait_until(lambda: not alive(child), timeout=5, message="the child to die")
    wait_until(lambda: not alive(grandchild), timeout=5, message="the grandchild to die")


def test_after_quit_a_term_to_the_child_alone_still_ends_the_job(r, spawn_worker):
    # mechanism: only a stop now (or a TERM) tells the child a TERM may be the platform's
    enqueue_raw(r, "default", {"class": "Sleep", "args": [60, "quit then term"]})
    worker = spawn_worker("-q", "default")
    child = pop(r, "test:started")["pid"]
    worker.signal(signal.SIGQUIT)
    wait_until(lambda: "Stopping (SIGQUIT)" in " ".join(psutil.Process(worker.pid).cmdline()),
               message="the worker to take the QUIT")
    wait_until(lambda: in_sleep(child), message="the job to sleep")
    os.kill(child, signal.SIGTERM)
    assert worker.wait(15) == 0
    [entry] = failures(r)
    assert entry["exception"] == "Resque::DirtyExit"
    assert "killed by SIGTERM" in entry["error"]
    assert r.llen("test:done") == 0 and r.smembers("resque:workers") == set()


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0,
                    reason="needs unshare (util-linux) and root for a PID namespace")
def test_as_pid_1_every_orphan_is_reaped(r, url):
    # mechanism: reap_orphans on SIGCHLD when the worker is PID 1
    enqueue_raw(r, "default", {"class": "Orphans", "args": [0.3]})
    enqueue_raw(r, "default", {"class": "Sleep", "args": [60, "pid1"]})
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", sys.executable,
                             "-m", "forkq", "work", "-q", "default", "-r", "workerjobs",
                             "--redis-url", url],
                            env=worker_env(url), cwd=SUPPORT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        orphan = pop(r, "test:orphan")["orphan"]  # host pid (the job saw its namespace's)
        pop(r, "test:done")  # Orphans ran
        pop(r, "test:started")  # the worker went on to the next job
        worker = _pid_1_of(proc.pid)
        assert worker is not None
        # The orphan ends (killed with its job's process group, or after 0.3 s) and is
        # re-parented to PID 1; a zombie keeps its process entry until PID 1 reaps it.
        wait_until(lambda: not _in_namespace_of(worker, orphan), timeout=5,
                   message="the orphan reaped by PID 1")
        assert not any(_state(p) == "Z" for p in _children(worker))
        assert r.smembers("resque:workers")
    finally:
        if proc.poll() is None:
            os.kill(_pid_1_of(proc.pid) or proc.pid, signal.SIGTERM)
            proc.wait(15)
    assert proc.returncode == 0


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0,
                    reason="needs unshare (util-linux) and root for a PID namespace")
def test_as_pid_1_an_orphan_that_dies_with_our_child_is_reaped(r, url):
    # mechanism: reap_orphans reaps every exited child that is not ours; it does not stop at
    # our own zombie (the job's child, forked first, is the one waitid(P_ALL) would name)
    enqueue_raw(r, "default", {"class": "W2::DieWithOrphan", "args": []})
    enqueue_raw(r, "default", {"class": "Sleep", "args": [60, "pid1"]})
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", sys.executable,
                             "-m", "forkq", "work", "-q", "default", "-r", "workerjobs", "-r",
                             "jobs_w2", "--no-fork-server", "--redis-url", url],
                            env=worker_env(url), cwd=SUPPORT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        orphan = pop(r, "test:orphan", timeout=15)["orphan"]  # pids in the namespace
        child = pop(r, "test:child")["pid"]
        worker = _pid_1_of(proc.pid)
        assert worker is not None
        # Both die while the worker is stopped: one SIGCHLD for two zombies when it goes on.
        os.kill(worker, signal.SIGSTOP)
        try:
            r.rpush("test:go", 1)
            for pid in (orphan, child):
                wait_until(lambda: _state(_host_pid(worker, pid)) == "Z", timeout=10,
                           message="pid %d a zombie" % pid)
        finally:
            os.kill(worker, signal.SIGCONT)
        pop(r, "test:started")  # the worker recorded the job and went on
        wait_until(lambda: not _in_namespace_of(worker, orphan), timeout=5,
                   message="the orphan reaped by PID 1")
        assert failures(r)[0]["payload"]["class"] == "W2::DieWithOrphan"
    finally:
        if proc.poll() is None:
            os.kill(_pid_1_of(proc.pid) or proc.pid, signal.SIGTERM)
            proc.wait(15)
    assert proc.returncode == 0


def _children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as fh:
                    if int(fh.read().split(")")[1].split()[1]) == pid:
                        out.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
    return out


def _state(pid):
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().split(")")[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def _host_pid(init_pid, ns_pid):
    """The host pid of the process `ns_pid` of init_pid's PID namespace (0 if none)."""
    namespace = os.readlink("/proc/%d/ns/pid" % init_pid)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/status" % entry) as fh:
                nspid = [line.split() for line in fh if line.startswith("NSpid:")]
            if nspid and nspid[0][-1] == str(ns_pid) and \
                    os.readlink("/proc/%s/ns/pid" % entry) == namespace:
                return int(entry)
        except OSError:
            continue
    return 0


def _in_namespace_of(init_pid, ns_pid):
    """Is there a process (alive or zombie) with pid `ns_pid` in init_pid's PID namespace?"""
    try:
        namespace = os.readlink("/proc/%d/ns/pid" % init_pid)
    except OSError:
        return False
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/status" % entry) as fh:
                nspid = [line for line in fh if line.startswith("NSpid:")]
            if nspid and nspid[0].split()[-1] == str(ns_pid) and \
                    os.readlink("/proc/%s/ns/pid" % entry) == namespace:
                return True
        except OSError:
            continue
    return False


def _pid_1_of(unshare_pid):
    # unshare --fork: the worker is unshare's child, PID 1 inside the namespace
    kids = _children(unshare_pid)
    return kids[0] if kids else None
