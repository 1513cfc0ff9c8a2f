"""prune_dead_workers: find workers that died without unregistering and record their jobs.

Resque's rules, made safe for mixed fleets:
  * any host: a heartbeat older than the prune interval (by Redis TIME) is a dead worker;
  * this host: a registered worker whose pid no longer runs (or runs a newer process that
    reused the pid) is dead. Unlike Ruby's `ps | grep resque` test, a live process of another
    implementation (node-resque, say) is never taken for dead;
  * workers on other hosts that never sent a heartbeat are left alone;
  * all under Resque's lock, so the cluster prunes at most once per lock period.
The dead worker's in-flight job lands in `failed` with the reason, never lost, and never
twice: node-resque's forceCleanWorker takes a worker out of `workers` and writes its own
failure for the job (naming the worker host:pid), but leaves the claim and the heartbeat
behind; such a job is not recorded again.
"""
import json

import psutil

from forkq import errors, wire
from forkq.worker.outcome import failed_entry
from forkq.worker.retries import Retries

STARTED_SLACK = 2.0  # seconds of clock skew allowed between :started and the process start


def pid_alive(pid, started_epoch=None):
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if started_epoch is not None and proc.create_time() > started_epoch + STARTED_SLACK:
            return False  # pid reused by a process that started after the worker did
        return True
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


def find_dead(store, hostname, own_id, prune_interval, now):
    """[(worker id, exception name, reason)] for every dead worker, without changing anything."""
    dead = {}
    for wid, beat in store.heartbeats().items():
        if wid == own_id or not beat:
            continue
        at = wire.parse_time(beat)
        if at is not None and now - at > prune_interval:
            dead[wid] = (errors.PRUNE_DIRTY_EXIT,
                         "heartbeat %s is %d s old" % (beat, now - at))
    for wid in store.workers():
        if wid == own_id or wid in dead:
            continue
        host, pid, _queues = wire.parse_worker_id(wid)
        if host != hostname or pid is None:
            continue
        if not pid_alive(pid, wire.parse_started(store.started(wid) or "")):
            dead[wid] = (errors.DIRTY_EXIT, "pid %d is gone from %s" % (pid, hostname))
    return [(wid,) + found for wid, found in sorted(dead.items())]


RECORDED_LOOKBACK = 200  # entries of `failed` searched for another tool's record of a job


def release_dead(store, wid, exception, reason, attempts=5, retries=None):
    """Unregister one dead worker, recording its claimed job (unless another tool already
    did). With `retries` (worker.retries.Retries), a job this process knows gets its
    on_failure hooks here and its retry, as any other failure. Returns (the class it held,
    whether it held a job)."""
    settled = {}
    for _ in range(attempts):
        claim = store.claim(wid)
        failure, job_class, effects = "", None, ""
        if claim:
            queue, raw, is_json, job_class = wire.split_claim(claim)
            if exception == errors.PRUNE_DIRTY_EXIT:
                error = "Worker %s did not gracefully exit while processing %s (%s)" % (
                    wid, job_class or "<Unknown Job>", reason)
            else:
                error = "Job still being processed: worker %s died (%s)" % (wid, reason)
            if not already_recorded(store, wid, claim):
                def build(failed_at=None):
                    return failed_entry(wid, queue, raw, exception, error,
                                        payload_is_json=is_json, failed_at=failed_at)
                if retries is not None and is_json and claim not in settled:
                    settled[claim] = retries.settle_pruned(queue, raw, exception, error)
                settlement = settled.get(claim)
                failure = settlement.failure(build) if settlement is not None else build()
                effects = settlement.argv() if settlement is not None else ""
        if store.release(wid, claim, failure, effects=effects) >= 0:
            return job_class, bool(claim)
    return None, False


def already_recorded(store, wid, claim):
    """True if a worker that is no longer registered left a claim whose job node-resque's
    forceCleanWorker already wrote to `failed`: an entry of the last RECORDED_LOOKBACK whose
    payload is the claim's and whose worker is host:pid, the name node-resque gives the
    worker (its id without the queues). forkq always writes the full id, so a failure of
    forkq's own with that payload (the same job failing again and again, say) never counts:
    then the job is recorded, as any doubt must be."""
    if store.is_registered(wid):
        return False
    payload = _field(claim, "payload")
    if payload is None:
        return False
    parts = wid.split(":", 2)
    if len(parts) < 3:
        return False  # no queues part: host:pid would be the full id, which never counts
    node_name = parts[0] + ":" + parts[1]
    for entry in reversed(store.recent_failures(RECORDED_LOOKBACK)):
        if _field(entry, "worker") == node_name and _field(entry, "payload") == payload:
            return True
    return False


def _field(raw, name):
    try:
        value = json.loads(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)
    except (ValueError, RecursionError):
        return None
    return value.get(name) if isinstance(value, dict) else None


def prune_dead_workers(store, hostname, own_id, config, log):
    """Prune under Resque's lock. Returns [(worker id, exception, reason, class)] pruned."""
    if not store.acquire_prune_lock(own_id, config.heartbeat_interval):
        return []
    pruned = []
    retries = Retries(store, log)
    for wid, exception, reason in find_dead(store, hostname, own_id, config.prune_interval,
                                            store.time()):
        job_class, had_job = release_dead(store, wid, exception, reason, retries=retries)
        log.event("pruned", "Pruning dead worker: %s" % wid, reason=reason,
                  job=job_class if had_job else None)
        pruned.append((wid, exception, reason, job_class))
    return pruned
