"""No job is ever lost: 1,500 jobs through several workers while a driver SIGKILLs parents,
job children and helper processes (fork server, guard) at random moments and starts new
workers. At the end every job id was performed, is in `failed`, or is still queued: none
missing, and each job has exactly one record.

The chaos is bounded so the test measures forkq, not the machine: kills happen only during a
fixed window, parents die at most once every PARENT_GAP seconds and at most MAX_PARENT_KILLS
times; then the survivors drain the queue. The drain budget is generous (a loaded 2-core
machine); on a quiet one the whole test takes about half a minute.

Mechanisms proven: the atomic reserve-and-claim (a job is never popped without worker:<id>),
PDEATHSIG (a child dies with its parent), prune of dead same-host workers by the survivors
(their claimed jobs land in `failed` with the reason), the parent's record of a child it saw
die, and the one-record-per-job cycle script."""
import collections
import json
import random
import re
import signal
import time

import psutil
from harness import enqueue_raw, wait_until

JOBS = 1500
WORKERS = 3
CHAOS_WINDOW = 10.0      # seconds of kills, then the survivors drain
PARENT_GAP = 0.5         # at least this long between two parent kills
MAX_PARENT_KILLS = 20
MAX_HELPER_KILLS = 3     # fork servers and guards: the worker must carry on without them
DRAIN_BUDGET = 150.0     # holds on a loaded 2-core machine; normally ~12 s in all
FAST = ("--heartbeat-interval", "1", "--prune-interval", "10", "--interval", "0.1",
        "--term-timeout", "1")
# One worker in three forks its children itself and keeps each for a few jobs, so both ways
# of spawning are under fire.
MODES = ((), (), ("--jobs-per-child", "5"))

# Every failed entry must say which of these happened (and nothing else may fail a Chaos job).
REASONS = [
    # the parent saw its child die (SIGKILL by the driver, or the fork server gone with it;
    # a server killed as the job reached it may have handed it to no child: never forked)
    ("Resque::DirtyExit",
     re.compile(r"Child process (\d+|\(never forked\)) (killed by SIGKILL|ended with its "
                r"fork server \(status unknown\)|ended \(status unknown\)).* after [0-9.]+ s")),
    # a survivor pruned a dead parent (same host: its pid is gone) and failed its claimed job
    ("Resque::DirtyExit",
     re.compile(r"Job still being processed: worker \S+:\d+:chaos died \(pid \d+ is gone "
                r"from \S+\)")),
    # a survivor pruned a dead parent whose heartbeat expired first
    ("Resque::PruneDeadWorkerDirtyExit",
     re.compile(r"Worker \S+:\d+:chaos did not gracefully exit while processing Chaos "
                r"\(heartbeat .* is \d+ s old\)")),
]


def test_chaos_loses_nothing(r, spawn_worker):
    rng = random.Random(20261123)
    for i in range(JOBS):
        enqueue_raw(r, "chaos", {"class": "Chaos", "args": [i, rng.choice([0, 0, 1, 3])]})
    started = [0]

    def spawn():
        mode = MODES[started[0] % len(MODES)]
        started[0] += 1
        return spawn_worker("-q", "chaos", *(FAST + mode))

    workers = [spawn() for _ in range(WORKERS)]
    kills = collections.Counter()
    seen = {}  # every job child and helper seen: none may outlive the chaos
    begun = time.monotonic()
    chaos_ends = begun + CHAOS_WINDOW
    next_parent_kill = begun + rng.uniform(PARENT_GAP, 2 * PARENT_GAP)
    while time.monotonic() < chaos_ends and r.llen("resque:queue:chaos") > 0:
        time.sleep(rng.uniform(0.05, 0.15))
        alive = [w for w in workers if w.alive()]
        if not alive:
            continue
        victim = rng.choice(alive)
        now = time.monotonic()
        if now >= next_parent_kill and kills["parent"] < MAX_PARENT_KILLS:
            victim.signal(signal.SIGKILL)  # the parent only: its children must follow it
            victim.wait(10)
            kills["parent"] += 1
            next_parent_kill = now + rng.uniform(PARENT_GAP, 2 * PARENT_GAP)
            workers.append(spawn())
            continue
        jobs, helpers = _descendants(victim.pid)
        seen.update((p.pid, p) for p in jobs + helpers)
        if helpers and kills["helper"] < MAX_HELPER_KILLS and rng.random() < 0.05:
            kills["helper"] += _kill(rng.choice(helpers))
        elif jobs:
            kills["child"] += _kill(rng.choice(jobs))
    chaos_took = time.monotonic() - begun
    assert kills["parent"] >= 5 and kills["child"] >= 10, (kills, chaos_took)

    # The survivors drain the queue and prune the dead (the prune lock lasts one heartbeat).
    wait_until(lambda: r.llen("resque:queue:chaos") == 0 and not _dead_workers(r),
               timeout=DRAIN_BUDGET, message="the survivors to drain the queue and prune "
               "every dead worker (%s)" % dict(kills))
    drained = time.monotonic() - begun
    for worker in workers:
        if worker.alive():
            worker.signal(signal.SIGQUIT)
    for worker in workers:
        if worker.alive():
            assert worker.wait(30) == 0, worker.log[-3000:]

    performed = [int(x) for x in r.lrange("test:chaos", 0, -1)]
    failed = [json.loads(x) for x in r.lrange("resque:failed", 0, -1)]
    failed_ids = [e["payload"]["args"][0] for e in failed]
    queued = {json.loads(x)["args"][0] for x in r.lrange("resque:queue:chaos", 0, -1)}
    missing = set(range(JOBS)) - set(performed) - set(failed_ids) - queued
    assert missing == set(), "%d jobs lost: %s" % (len(missing), sorted(missing)[:20])

    # Exactly one record per job: the worker's own records count in stat:processed (done, or
    # failed because it saw its child die); a prune's record is a `failed` entry only.
    pruned = [e for e in failed if "Job still being processed" in e["error"]
              or e["exception"] == "Resque::PruneDeadWorkerDirtyExit"]
    processed = int(r.get("resque:stat:processed") or 0)
    assert processed + len(pruned) == JOBS - len(queued), (processed, len(pruned), kills)
    twice = [i for i, n in collections.Counter(failed_ids).items() if n > 1]
    assert twice == [], "jobs failed twice: %s" % twice[:20]

    # Every failure says what happened; dead parents' jobs were found by the survivors' prune.
    unclear = [e for e in failed if not _clear_reason(e)]
    assert unclear == [], json.dumps(unclear[:5], indent=1)
    assert all(e["queue"] == "chaos" and e["payload"]["class"] == "Chaos" for e in failed)
    assert pruned, "killing %d parents must have left claimed jobs for the prune" % kills["parent"]
    assert len(failed) > len(pruned), "killing children must have failed some jobs"

    # No process outlives its worker (PDEATHSIG): the killed parents' children went with them.
    wait_until(lambda: not [p for p in seen.values() if _running(p)], timeout=10,
               message="every child of the chaos to be gone")
    # Nothing half-claimed, nobody left registered.
    assert list(r.scan_iter("resque:worker:*")) == []
    assert r.smembers("resque:workers") == set()
    assert r.hlen("resque:workers:heartbeat") == 0
    print("chaos: %s in %.1f s, drained after %.1f s; %d performed, %d failed (%d pruned)"
          % (dict(kills), chaos_took, drained, len(set(performed)), len(failed), len(pruned)))


def _clear_reason(entry):
    return any(entry["exception"] == exception and pattern.search(entry["error"])
               for exception, pattern in REASONS)


def _descendants(worker_pid):
    """(job children, helpers) of a worker: children running a job (through its fork server
    or forked by the worker itself) and its fork server or guard."""
    try:
        procs = psutil.Process(worker_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return [], []
    jobs, helpers = [], []
    for proc in procs:
        title = _title(proc)
        if "Processing" in title:
            jobs.append(proc)
        elif "Fork server" in title or "Guard" in title:
            helpers.append(proc)
    return jobs, helpers


def _kill(proc):
    try:
        proc.send_signal(signal.SIGKILL)  # psutil checks the pid was not reused meanwhile
        return 1
    except psutil.Error:
        return 0


def _running(proc):
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _title(proc):
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _dead_workers(r):
    """Registered workers whose process is gone (not yet pruned)."""
    dead = []
    for wid in r.smembers("resque:workers"):
        pid = int(wid.decode().split(":")[1])
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                continue
        except psutil.NoSuchProcess:
            pass
        dead.append(wid)
    return dead
