"""Section 5: scaling. A `forkq pool` of 1, 2, 4 and 8 workers drains one queue, then 16 queues
(jobs dealt round-robin, every worker on all 16), against rq's `worker-pool` of as many in the
same run: total jobs/s, Redis commands, the workers' CPU and Redis's own CPU per job.

Each pool starts first, on empty queues, and the jobs are pushed once all its workers are
registered (forkq's wake on the push, rq's BLPOP): interpreter start-up stays out. Figures run
from 10 % to 90 % of the jobs done (counted every 10 ms: forkq's stat:processed, rq's finished
registries), so neither the fill nor the last stragglers weigh. The pool is then stopped (TERM).
"""
import os
import signal
import subprocess
import tempfile
import time

from peers import BENCH, log
from sampler import Tree

QUEUE_SETS = {"1 queue": ["bench"], "16 queues": ["s%02d" % i for i in range(16)]}
FORKQ_POOL = "forkq pool"
RQ_POOL = "rq worker-pool"
WARM = 0.1
TICK = 0.01


def scaling(ctx, counts, forkq_jobs, rq_jobs):
    out = {}
    for layout, queues in QUEUE_SETS.items():
        for workers in counts:
            for system, jobs, missing in ((FORKQ_POOL, forkq_jobs, ctx.forkq_missing),
                                          (RQ_POOL, rq_jobs, ctx.rq_missing)):
                row = out.setdefault(system, {}).setdefault(layout, {})
                if missing:
                    row[str(workers)] = {"error": missing}
                    continue
                try:
                    m = run_pool(ctx, system, queues, workers, jobs)
                except Exception as exc:
                    m = {"error": "%s: %s" % (type(exc).__name__, exc)}
                row[str(workers)] = m
                log("  scaling: %-15s %-9s %d workers  %s" % (
                    system, layout, workers, m.get("error") or "%.0f jobs/s, %.1f cmds/job"
                    % (m["jobs_per_s"], m["cmds_per_job"])))
    return out


def _command(ctx, system, queues, workers):
    url = ctx.server.url
    if system == FORKQ_POOL:
        return [ctx.python, "-m", "forkq", "pool", "-n", str(workers), "-q", ",".join(queues),
                "--", "--redis-url", url, "--require", "jobs_forkq"], "resque:workers"
    return [ctx.rq, "-m", "rq.cli", "worker-pool", "-n", str(workers), "-u", url, "-q",
            *queues], "rq:workers"


def _done(server, system, queues):
    if system == FORKQ_POOL:
        return int(server.r.get("resque:stat:processed") or 0), 1
    pipe = server.r.pipeline(transaction=False)
    for q in queues:
        pipe.zcard("rq:finished:" + q)
    return sum(pipe.execute()), len(queues)


def _fill(ctx, system, queues, jobs):
    if system == FORKQ_POOL:
        pipe = ctx.server.r.pipeline(transaction=False)
        for q in queues:
            pipe.sadd("resque:queues", q)
        for i in range(jobs):
            pipe.rpush("resque:queue:" + queues[i % len(queues)],
                       '{"class":"Noop","args":[%d]}' % i)
        pipe.execute()
        return None
    # rq's own enqueue in its venv, started in the background: the 10 % mark waits for it
    return subprocess.Popen([ctx.rq, os.path.join(BENCH, "rq_driver.py"), "fill",
                             ctx.server.url, str(jobs), ",".join(queues)], env=ctx.env,
                            cwd=BENCH, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_pool(ctx, system, queues, workers, jobs):
    server = ctx.server
    server.fresh()
    cmd, registry = _command(ctx, system, queues, workers)
    tree = Tree()
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env=ctx.env, cwd=BENCH, stdout=subprocess.DEVNULL,
                            stderr=err, start_new_session=True)
    filler = None
    try:
        tree.start(proc.pid)
        deadline = time.monotonic() + 60
        while server.r.scard(registry) < workers:
            if proc.poll() is not None or time.monotonic() > deadline:
                err.seek(0)
                raise RuntimeError("pool did not start: " + err.read().decode(
                    "utf-8", "replace").strip()[-200:].replace("\n", " | "))
            time.sleep(0.02)
        time.sleep(0.2)  # registered comes just before each worker's first reserve
        filler = _fill(ctx, system, queues, jobs)
        marks, probes, done = [], 0, 0
        want = [max(1, int(jobs * WARM)), int(jobs * (1 - WARM))]
        deadline = time.monotonic() + 60 + jobs / 10
        while want:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("%d of %d jobs done in time" % (done, jobs))
            done, cost = _done(server, system, queues)
            probes += cost
            if done >= want[0]:
                want.pop(0)
                marks.append((time.perf_counter(), done, server.calls() - probes,
                               server.cpu(), tree.cpu()))
            time.sleep(TICK)
    finally:
        _stop(proc)
        if filler:
            filler.wait()
        err.close()
    (t0, d0, c0, r0, w0), (t1, d1, c1, r1, w1) = marks
    jobs_between = d1 - d0
    return {"workers": workers, "queues": len(queues), "jobs": jobs,
            "jobs_per_s": jobs_between / (t1 - t0),
            "cmds_per_job": (c1 - c0) / jobs_between,
            "cpu_ms_per_job": None if w0 is None or w1 is None
            else 1000 * (w1 - w0) / jobs_between,
            "redis_cpu_ms_per_job": 1000 * (r1 - r0) / jobs_between}


def _stop(proc):
    """TERM to the pool's group; then KILL to whatever of it is left, sent while the leader is
    still unreaped (a zombie keeps its group id from being handed to anyone else)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except OSError:
        pass
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
            break
        time.sleep(0.02)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


def scaling_lines(section):
    """The printed table: per queue set and worker count, forkq's pool beside rq's."""
    lines = ["", "scaling: N workers on this %d-core machine drain one queue, then 16 (steady "
                 "10-90 %% of the jobs; CPU = the pool's processes and their children)"
             % os.cpu_count()]
    if "error" in section:
        return lines + ["  n/a (%s)" % section["error"]]
    head = "  %-9s %7s  %-46s  %-46s"
    lines.append(head % ("queues", "workers", FORKQ_POOL, RQ_POOL))
    cell = "%6s jobs/s %5s cmds/j %5s cpu ms/j %5s redis ms/j"
    forkq, rq = section.get(FORKQ_POOL, {}), section.get(RQ_POOL, {})
    best = []
    for layout in QUEUE_SETS:
        for workers in sorted({int(k) for k in forkq.get(layout, {})}
                              | {int(k) for k in rq.get(layout, {})}):
            row = []
            for system in (forkq, rq):
                m = system.get(layout, {}).get(str(workers), {"error": "not run"})
                if "error" in m:
                    row.append("n/a (%s)" % m["error"][:40])
                    continue
                row.append(cell % ("%.0f" % m["jobs_per_s"], "%.1f" % m["cmds_per_job"],
                                   _f(m["cpu_ms_per_job"]), _f(m["redis_cpu_ms_per_job"])))
                if system is forkq:
                    best.append(m)
            lines.append(head % (layout, workers, row[0], row[1]))
    if best:
        top = max(best, key=lambda m: m["jobs_per_s"])
        per_job = min(m["redis_cpu_ms_per_job"] for m in best if m["redis_cpu_ms_per_job"])
        lines.append("  Redis's side: %.3f ms of Redis CPU a forkq job at best here → one Redis "
                     "core (Redis runs commands on one thread) saturates near %.0f jobs/s; "
                     "forkq's best here %.0f jobs/s (%d workers, %s). See bench/README.md"
                     % (per_job, 1000 / per_job, top["jobs_per_s"], top["workers"],
                        "1 queue" if top["queues"] == 1 else "%d queues" % top["queues"]))
    return lines


def _f(value):
    return "-" if value is None else "%.2f" % value
