"""prune_dead_workers: find workers that died without unregistering and record their jobs.

Resque's rules, made safe for mixed fleets, outages and clocks:
  * this host: a registered worker whose process is gone is dead. forkq workers are known by
    the kernel's start stamp of their process (proc/pidstart.py), never by a wall clock: a pid
    reused by a later process is told apart whatever the clocks said or say. A worker without
    a stamp (Ruby, node-resque) is alive while its pid runs; unlike Ruby's `ps | grep resque`
    test, a live process of another implementation is never taken for dead. These checks
    need no lock: a record acts only on the claim it read, so two pruners never record a job
    twice, and a starting worker records its dead neighbours' jobs at once;
  * any host: a heartbeat older than the prune interval (by Redis TIME) is a dead worker, but
    only judged by a pruner that has seen Redis without a break for a prune interval (Sight):
    after an outage every heartbeat is old, the living's too. These prunes are paced by
    Resque's lock, so the cluster prunes by age at most once per lock period;
  * workers on other hosts that never sent a heartbeat are left alone.
The dead worker's in-flight job lands in `failed` with the reason, never lost, and never
twice: node-resque's forceCleanWorker takes a worker out of `workers` and writes its own
failure for the job (naming the worker host:pid), but leaves the claim and the heartbeat
behind; such a job is not recorded again. A worker pruned while alive (cut off from Redis
longer than the prune interval) replaces the prune's failure with its job's true record
(own_record).
"""
import json
import time

from forkq import errors, wire
from forkq.proc import pidstart
from forkq.store.client import REDIS_DOWN
from forkq.worker.outcome import failed_entry
from forkq.worker.retries import Retries

PRUNED_MEMO_TTL = 7 * 86400  # how long a prune's record can still be replaced by the truth
STARTED_SLACK = 2.0  # seconds of clock skew allowed between :started and the process start


def pid_alive(pid, stamp=None, started_epoch=None):
    """Is `pid` (still) the worker's process? With its registration `stamp`, exactly. Without
    one, while any process runs under that pid (never a false "dead"); a caller about to
    signal the pid may also pass the worker's :started time, and a process that started
    after it (by the wall clock, with some slack) is then taken for another."""
    same = pidstart.same_process(pid, stamp) if stamp else None
    if same is not None:
        return same
    import psutil  # not at the top: the fork server starts before psutil is loaded
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if started_epoch is not None and proc.create_time() > started_epoch + STARTED_SLACK:
            return False
        return True
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


class Sight:
    """How long this worker has seen Redis without a break, by its own successful heartbeats
    (monotonic clock). A gap longer than a heartbeat interval and a bit is a blind spell:
    Redis was unreachable to us, and maybe to everyone, so every peer's heartbeat may be old
    for no fault of theirs."""

    def __init__(self, heartbeat_interval, clock=time.monotonic):
        self.clock = clock
        self.limit = heartbeat_interval + max(1.0, heartbeat_interval / 4.0)
        self.last = clock()   # the worker's start counts as seen: the first beat is due now
        self.since = None     # the first beat of the current unbroken run
        self.broken = False   # a blind spell since this worker started

    def beat(self):
        now = self.clock()
        if now - self.last > self.limit:
            self.broken, self.since = True, now
        elif self.since is None:
            self.since = now
        self.last = now

    def may_judge_age(self, store, prune_interval):
        """True once heartbeat age can be trusted: our run of beats is a prune interval long;
        or, never blind since we started, Redis itself has been up that long (a new worker
        right after a Redis restart sees every heartbeat old)."""
        if self.since is None or self.clock() - self.last > self.limit:
            return False
        if self.clock() - self.since >= prune_interval:
            return True
        if self.broken:
            return False
        try:
            return store.uptime() >= prune_interval
        except REDIS_DOWN:
            raise
        except Exception:  # noqa: BLE001 - INFO refused (an ACL): wait for our own run
            return False


def find_gone_here(store, hostname, own_id):
    """{worker id: (exception, reason)} for registered workers of this host whose process is
    gone."""
    dead = {}
    for wid in store.workers():
        if wid == own_id:
            continue
        host, pid, _queues = wire.parse_worker_id(wid)
        if host != hostname or pid is None:
            continue
        if not pid_alive(pid, store.pidstart(wid)):
            dead[wid] = (errors.DIRTY_EXIT, "pid %d is gone from %s" % (pid, hostname))
    return dead


def find_stale(store, own_id, prune_interval, now, skip=()):
    """{worker id: (exception, reason)} for workers whose heartbeat is older than the prune
    interval, on any host (Resque's rule: a worker of this host whose process runs but has
    not reached Redis for that long is hung or cut off; if it is alive after all, its job's
    true record replaces the prune's, see own_record)."""
    dead = {}
    for wid, beat in store.heartbeats().items():
        if wid == own_id or not beat or wid in skip:
            continue
        at = wire.parse_time(beat)
        if at is not None and now - at > prune_interval:
            dead[wid] = (errors.PRUNE_DIRTY_EXIT,
                         "heartbeat %s is %d s old" % (beat, now - at))
    return dead


def find_dead(store, hostname, own_id, prune_interval, now):
    """[(worker id, exception name, reason)] for every dead worker, without changing anything."""
    dead = find_gone_here(store, hostname, own_id)
    dead.update(find_stale(store, own_id, prune_interval, now, skip=dead))
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
        # A plain failure can later give way to the job's true record (own_record); one that
        # scheduled a retry stands: the job will run again, and two records would be one
        # too many.
        memo = PRUNED_MEMO_TTL if failure and not effects else None
        if store.release(wid, claim, failure, effects=effects, memo_ttl=memo) >= 0:
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


def prune_dead_workers(store, hostname, own_id, config, log, sight=None):
    """Record dead same-host workers' jobs at once, and (when `sight` trusts heartbeat age,
    or without one) stale workers' under Resque's lock. Returns [(worker id, exception,
    reason, class)] pruned."""
    dead = find_gone_here(store, hostname, own_id)
    if (sight is None or sight.may_judge_age(store, config.prune_interval)) and \
            store.acquire_prune_lock(own_id, config.heartbeat_interval):
        dead.update(find_stale(store, own_id, config.prune_interval, store.time(),
                               skip=dead))
    pruned = []
    retries = Retries(store, log)
    for wid, (exception, reason) in sorted(dead.items()):
        job_class, had_job = release_dead(store, wid, exception, reason, retries=retries)
        log.event("pruned", "Pruning dead worker: %s" % wid, reason=reason,
                  job=job_class if had_job else None)
        pruned.append((wid, exception, reason, job_class))
    return pruned


def own_record(store, wid, claim_sha, record, log):
    """A record of ours found its claim gone: a prune took us for dead and failed the job.
    Put the job's true record in the prune's place. Returns 1 if it did, else 0 (the prune's
    record stands: the job still has exactly one)."""
    if record is None or not claim_sha:
        return 0
    try:
        replaced = store.supersede(wid, claim_sha, record)
    except REDIS_DOWN as exc:
        log.event("warning", "could not replace a prune's record of our job: %s" % exc)
        return 0
    if replaced:
        log.event("warning", "this worker was pruned while alive; its job's record replaces "
                  "the prune's failure")
    return 1 if replaced else 0
