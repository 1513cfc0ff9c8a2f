"""No job is ever lost: 1,000 jobs through several workers while a driver SIGKILLs parents and
children at random and starts new workers. At the end every job id was performed, is in
`failed`, or is still queued: none missing.

Mechanisms proven: the atomic reserve-and-claim (a job is never popped without worker:<id>),
PDEATHSIG (a child dies with its parent), prune of dead same-host workers by the survivors
(their claimed jobs land in `failed`), and the one-record-per-job cycle script."""
import json
import random
import signal
import time

import psutil

from conftest import enqueue_raw, wait_until

JOBS = 1000
WORKERS = 3
FAST = ("--heartbeat-interval", "1", "--prune-interval", "3", "--interval", "0.1",
        "--term-timeout", "1")


def test_chaos_loses_nothing(r, spawn_worker):
    rng = random.Random(20261123)
    for i in range(JOBS):
        enqueue_raw(r, "chaos", {"class": "Chaos", "args": [i, rng.choice([0, 0, 1, 3])]})
    workers = [spawn_worker("-q", "chaos", *FAST) for _ in range(WORKERS)]
    kills = {"parent": 0, "child": 0}
    deadline = time.monotonic() + 40
    while r.llen("resque:queue:chaos") > 0 and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.02, 0.08))
        alive = [w for w in workers if w.alive()]
        if not alive:
            workers.append(spawn_worker("-q", "chaos", *FAST))
            continue
        victim = rng.choice(alive)
        if rng.random() < 0.3:
            victim.signal(signal.SIGKILL)  # the parent only: its child must follow it
            victim.wait(5)
            kills["parent"] += 1
            workers.append(spawn_worker("-q", "chaos", *FAST))
        else:
            children = _job_children(victim.pid)
            if children:
                try:
                    rng.choice(children).send_signal(signal.SIGKILL)
                    kills["child"] += 1
                except psutil.NoSuchProcess:
                    pass
    assert r.llen("resque:queue:chaos") == 0, "the chaos phase did not drain the queue"
    assert kills["parent"] >= 5 and kills["child"] >= 5, kills
    # Survivors finish and prune the dead (the prune lock lasts one heartbeat interval).
    wait_until(lambda: not _dead_claims(r), timeout=20, message="every dead worker pruned")
    for worker in workers:
        if worker.alive():
            worker.signal(signal.SIGQUIT)
    for worker in workers:
        worker.wait(20)
    performed = {int(x) for x in r.lrange("test:chaos", 0, -1)}
    failed = [json.loads(x) for x in r.lrange("resque:failed", 0, -1)]
    failed_ids = {e["payload"]["args"][0] for e in failed}
    queued = {json.loads(x)["args"][0] for x in r.lrange("resque:queue:chaos", 0, -1)}
    missing = set(range(JOBS)) - performed - failed_ids - queued
    assert missing == set(), "%d jobs lost: %s" % (len(missing), sorted(missing)[:20])
    assert failed_ids, "killing children must have failed some jobs"
    # Dead workers are found by pid (same host) or, if their heartbeat aged first, by it.
    reasons = {e["exception"] for e in failed}
    assert reasons <= {"Resque::DirtyExit", "Resque::PruneDeadWorkerDirtyExit"}, reasons
    assert all("killed by SIGKILL" in e["error"] or "is gone" in e["error"]
               or "ended with its fork server" in e["error"]
               or "did not gracefully exit" in e["error"] for e in failed)
    assert r.smembers("resque:workers") == set()


def _job_children(worker_pid):
    """The job children of a worker: grandchildren through its fork server."""
    try:
        procs = psutil.Process(worker_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in procs if "Processing" in " ".join(_cmdline(p))]


def _cmdline(proc):
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _dead_claims(r):
    """Registered workers whose process is gone (not yet pruned)."""
    dead = []
    for wid in r.smembers("resque:workers"):
        pid = int(wid.decode().split(":")[1])
        if not psutil.pid_exists(pid):
            dead.append(wid)
    return dead
