"""Pruning never takes a live worker for dead, and finds dead ones at once (issue 12 cases 3,
4 and 11): same-host liveness by the kernel's start stamp of the worker's process, not by
wall clocks; same-host dead workers recorded by a starting (or --burst) worker whatever the
prune lock says; and a worker pruned while alive ends with its job's true record."""
import json
import os
import signal
import subprocess
import sys
import time

from harness import SUPPORT, enqueue_raw, failures, pop, registered_id, wait_until, worker_env

from forkq import wire
from forkq.store.worker_io import Store
from forkq.worker import prune

FAST = ("--heartbeat-interval", "1", "--prune-interval", "3", "--interval", "0.1")
LOCK = "resque:pruning_dead_workers_in_progress"


class Log:
    def __init__(self):
        self.events = []

    def event(self, name, message="", **fields):
        self.events.append((name, message, fields))


def forkq_prune(url, *args):
    proc = subprocess.run([sys.executable, "-m", "forkq", "prune", "--redis-url", url, "--json"]
                          + list(args), env=worker_env(url), cwd=SUPPORT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_worker_whose_clock_is_behind_is_never_pruned_while_alive(r, url, spawn_worker):
    # its :started says 3 s before the kernel's start time of its process; the old check
    # (started + 2 s slack vs the process's start by the wall clock) took it for a reused pid
    slow = spawn_worker("-q", "default", "-r", "workerjobs", "-r", "clockbehind", *FAST)
    wid = registered_id(r, slow.pid)
    started = wire.parse_started(r.get("resque:worker:%s:started" % wid).decode())
    assert started < time.time() - 2.5  # the shift took: the old check would prune it
    enqueue_raw(r, "default", {"class": "Sleep", "args": [6, "behind"]})
    pop(r, "test:started")
    # a neighbour that prunes every second, and the operator's prune, both while it works
    neighbour = spawn_worker("-q", "elsewhere", *FAST)
    registered_id(r, neighbour.pid)
    for _ in range(3):
        assert forkq_prune(url) == []
        assert r.sismember("resque:workers", wid)
        # its claim is there until the job reports (a slow machine may get that far)
        assert r.exists("resque:worker:" + wid) or r.exists("test:done")
        time.sleep(0.5)  # the neighbour's prunes run meanwhile (this is the time under test)
    assert pop(r, "test:done", timeout=20)["tag"] == "behind"
    wait_until(lambda: r.get("resque:stat:processed") == b"1", 10, "the job's record")
    assert failures(r) == []
    assert "Pruning dead worker" not in neighbour.log and "pruned" not in neighbour.log
    assert slow.alive() and "registered again" not in slow.log


def test_a_starting_burst_worker_records_a_dead_neighbours_job_at_once(r, spawn_worker):
    # the neighbour is killed (SIGKILL to its group) in the middle of a job; the prune lock
    # is held elsewhere for a minute (Resque's lock period): that lock paces only heartbeat
    # prunes, so the next worker started on this host records the job right away
    dead = spawn_worker("-q", "default")
    dead_id = registered_id(r, dead.pid)
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "killed"]})
    pop(r, "test:started")
    os.killpg(dead.pid, signal.SIGKILL)
    dead.wait(10)
    r.set(LOCK, "elsewhere:1:default", ex=60)
    assert r.sismember("resque:workers", dead_id)
    burst = spawn_worker("--burst", "-q", "default")
    assert burst.wait(30) == 0, burst.log
    [entry] = failures(r)
    assert entry["exception"] == "Resque::DirtyExit" and entry["worker"] == dead_id
    assert "is gone" in entry["error"] and entry["payload"]["args"] == [30, "killed"]
    assert not r.sismember("resque:workers", dead_id)
    assert not r.exists("resque:worker:" + dead_id, "resque:forkq:pidstart:" + dead_id)


def test_a_worker_pruned_while_alive_ends_with_its_jobs_true_record(r, url, spawn_worker):
    # a pruner on another host sees the worker's heartbeat old (cut off from Redis longer
    # than the prune interval, say) and fails its job; the job then succeeds: its record
    # replaces the prune's, so the job has one record, the true one, and stat:processed
    # counts it
    worker = spawn_worker("-q", "default", "--interval", "0.1")
    wid = registered_id(r, worker.pid)
    enqueue_raw(r, "default", {"class": "Sleep", "args": [2, "pruned alive"]})
    pop(r, "test:started")
    r.hset("resque:workers:heartbeat", wid, wire.heartbeat_at(time.time() - 400))
    store = Store(url, "resque")
    dead = prune.find_dead(store, "pruner.example", None, 300, store.time())
    assert [d[0] for d in dead] == [wid]
    prune.release_dead(store, wid, dead[0][1], dead[0][2])
    [entry] = failures(r)  # what an observer sees while the job still runs
    assert entry["exception"] == "Resque::PruneDeadWorkerDirtyExit"
    assert pop(r, "test:done", timeout=20)["tag"] == "pruned alive"
    wait_until(lambda: r.get("resque:stat:processed") == b"1", 10, "the job's true record")
    assert failures(r) == []
    assert r.keys("resque:forkq:pruned:*") == []
    store.redis.close()


def test_a_failed_job_of_a_worker_pruned_while_alive_keeps_its_own_failure(r, url,
                                                                           spawn_worker):
    worker = spawn_worker("-q", "default", "--interval", "0.1")
    wid = registered_id(r, worker.pid)
    enqueue_raw(r, "default", {"class": "Sleep", "args": [2, "x"]})
    enqueue_raw(r, "default", {"class": "Fail", "args": ["after"]})
    pop(r, "test:started")
    r.hset("resque:workers:heartbeat", wid, wire.heartbeat_at(time.time() - 400))
    store = Store(url, "resque")
    [(found, exception, reason)] = prune.find_dead(store, "pruner.example", None, 300,
                                                   store.time())
    prune.release_dead(store, wid, exception, reason)
    wait_until(lambda: [e["exception"] for e in failures(r)] == ["ValueError"], 20,
               "the failing job's own record, and no prune record of the sleeping one")
    assert r.get("resque:stat:processed") == b"2" and r.get("resque:stat:failed") == b"1"
    store.redis.close()


HOST = __import__("socket").gethostname()
CONFIG = __import__("types").SimpleNamespace(heartbeat_interval=1, prune_interval=300)


def test_same_host_liveness_without_clocks(url, r):
    """In-process prunes of fake same-host workers, each naming a real process: a Ruby or
    node-resque worker (no forkq:pidstart) whose :started is 3 s before its process started
    is alive while its pid runs; a forkq worker whose recorded stamp is not the running
    process's (the pid was reused) is dead; one whose stamp matches is alive whatever its
    :started says."""
    from forkq.proc import pidstart
    live = subprocess.Popen(["sleep", "60"])
    try:
        stamp = pidstart.stamp(live.pid)
        boot, ticks = stamp.split()
        ruby = "%s:%d:default" % (HOST, live.pid)
        r.sadd("resque:workers", ruby)
        r.set("resque:worker:%s:started" % ruby, wire.started_at(time.time() - 3600))
        reused = "%s:%d:other" % (HOST, live.pid)
        r.sadd("resque:workers", reused)
        r.set("resque:forkq:pidstart:" + reused, "%s %d" % (boot, int(ticks) - 1))
        forkq_alive = "%s:%d:third" % (HOST, live.pid)
        r.sadd("resque:workers", forkq_alive)
        r.set("resque:worker:%s:started" % forkq_alive, wire.started_at(time.time() + 3600))
        r.set("resque:forkq:pidstart:" + forkq_alive, stamp)
        store = Store(url, "resque")
        pruned = prune.prune_dead_workers(store, HOST, "%s:1:x" % HOST, CONFIG, Log())
        assert [p[0] for p in pruned] == [reused]
        assert r.smembers("resque:workers") == {ruby.encode(), forkq_alive.encode()}
        store.redis.close()
    finally:
        live.kill()
        live.wait()


def test_same_host_prunes_without_the_lock_record_a_job_once(url, r):
    """Four pruners at once (workers starting together), no lock between them: the dead
    worker's job is recorded once, since a record acts only on the claim it read."""
    import threading
    dead = "%s:%d:default" % (HOST, __import__("harness").dead_pid())
    r.sadd("resque:workers", dead)
    r.set("resque:worker:" + dead, wire.claim_json(
        "default", wire.run_at(time.time()), '{"class":"Record","args":["once"]}'))
    r.set(LOCK, "elsewhere:1:default", ex=60)
    stores = [Store(url, "resque") for _ in range(4)]
    results = []
    threads = [threading.Thread(target=lambda s=s, i=i: results.append(
        prune.prune_dead_workers(s, HOST, "%s:%d:x" % (HOST, i + 1), CONFIG, Log())))
        for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 4
    [entry] = failures(r)
    assert entry["worker"] == dead and entry["payload"]["args"] == ["once"]
    assert not r.sismember("resque:workers", dead)
    for s in stores:
        s.redis.close()
