"""Sections 1 and 3: one worker of each kind drains N queued no-op jobs, interleaved round after
round; then forkq's reserve cost with 1 queue against 1,000, through the trip-counting relay."""
import math
import os
import statistics
import subprocess

from peers import BENCH, log
from sampler import measure
from tripcount import Relay

FLOOR = "floor (redis-py, fork)"
CEILING = "lean fork-server ceiling"
NO_FORK = "floor without fork"
FORKQ = "forkq fork per job"
NO_FORK_SERVER = "forkq --no-fork-server"
PER_CHILD = "forkq --jobs-per-child 100"
RQ_FORK = "rq Worker (fork per job)"
RQ_SIMPLE = "rq SimpleWorker"
# the same three with the ~100 MB preloaded app (bigapp.py): fork cost follows the app
APP_FLOOR = "floor, 100 MB app"
APP_CEILING = "lean ceiling, 100 MB app"
APP_FORKQ = "forkq fork per job, 100 MB app"


# --- filling queues (not measured) -----------------------------------------------------------

def fill_resque(server, n, queue="bench", job="Noop"):
    """What Ruby's Resque.enqueue writes: SADD resque:queues + RPUSH of compact JSON."""
    pipe = server.r.pipeline(transaction=False)
    pipe.sadd("resque:queues", queue)
    for i in range(n):
        pipe.rpush("resque:queue:" + queue, '{"class":"%s","args":[%d]}' % (job, i))
    pipe.execute()


def fill_rq(ctx, n):
    """rq's own enqueue, run once per size in the venv (0.5 s of start-up); the keys it wrote
    are kept as DUMPs and RESTOREd for later rounds: the same bytes, without another
    interpreter."""
    r = ctx.server.r
    snapshot = ctx.rq_fills.get(n)
    if snapshot is None:
        subprocess.run([ctx.rq, os.path.join(BENCH, "rq_driver.py"), "fill", ctx.server.url,
                        str(n)], check=True, env=ctx.env, cwd=BENCH, timeout=120,
                       capture_output=True)
        snapshot = [(key, max(r.pttl(key), 0), r.dump(key)) for key in r.keys("*")]
        ctx.rq_fills[n] = snapshot
        return
    pipe = r.pipeline(transaction=False)
    for key, ttl, data in snapshot:
        pipe.restore(key, ttl, data, replace=True)
    pipe.execute()


# --- 1. draining N no-op jobs ----------------------------------------------------------------

def forkq_cmd(ctx, queues="bench", url=None, require="jobs_forkq"):
    return [ctx.python, "-m", "forkq", "work", "--burst", "--queues", queues,
            "--require", require, "--redis-url", url or ctx.server.url]


# forkq as it was at another commit (--baseline REV): its package first on sys.path, so a
# refactor is judged against the code before it in the same run, round after round
_AT_DIR = "import runpy, sys; sys.argv[0] = 'forkq'; sys.path.insert(0, %r); " \
          "runpy.run_module('forkq', run_name='__main__', alter_sys=True)"


def baseline_command(path, cmd):
    """`cmd` ([python, "-m", "forkq", ...]) run with the forkq package found at `path`."""
    return [cmd[0], "-c", _AT_DIR % path] + cmd[3:] if cmd else []


def baseline_contender(ctx, n):
    if not getattr(ctx, "baseline", None):
        return []
    label, path = ctx.baseline
    cmd = baseline_command(path, forkq_cmd(ctx))
    return [("forkq fork per job @" + label, cmd, "resque", n, n, ctx.forkq_missing)]


def contenders(ctx, n):
    """(name, command, kind, jobs, children by design, missing): kind picks the queue format;
    missing says why it can't run here (then every round reports it n/a)."""
    url = ctx.server.url
    forkq = forkq_cmd(ctx)
    rq = [ctx.rq or "rq-python", "-m", "rq.cli", "worker", "--burst", "--url", url, "--quiet"]
    n_rq = ctx.rq_worker_jobs or n
    return [
        (FLOOR, [ctx.python, "floor.py", url], "resque", n, n, None),
        (CEILING, [ctx.python, "ceiling.py", url], "resque", n, n, None),
        (NO_FORK, [ctx.python, "floor.py", url, "--no-fork"], "resque", n, None, None),
        (FORKQ, forkq, "resque", n, n, ctx.forkq_missing),
        (NO_FORK_SERVER, forkq + ["--no-fork-server"], "resque", n, n,
         ctx.forkq_missing or ctx.skip_no_fork_server),
        (PER_CHILD, forkq + ["--jobs-per-child", "100"], "resque", n, math.ceil(n / 100),
         ctx.forkq_missing),
        # rq's forking Worker is the slowest by far: in quick mode it drains fewer jobs
        (RQ_FORK, rq + ["bench"], "rq", n_rq, n_rq, ctx.rq_missing),
        (RQ_SIMPLE, rq + ["-w", "rq.worker.SimpleWorker", "bench"], "rq", n, None,
         ctx.rq_missing),
    ] + baseline_contender(ctx, n)


def app_contenders(ctx, n):
    """The floor, the ceiling and forkq, each with bigapp.py preloaded before it forks."""
    url = ctx.server.url
    return [(APP_FLOOR, [ctx.python, "floor.py", url, "--app"], "resque", n, n, None),
            (APP_CEILING, [ctx.python, "ceiling.py", url, "--app"], "resque", n, n, None),
            (APP_FORKQ, forkq_cmd(ctx, require="bigapp"), "resque", n, n, ctx.forkq_missing)]


def drain_round(ctx, n, round_no, plan_for=contenders):
    results = {}
    plan = plan_for(ctx, n)
    shift = round_no % len(plan)  # rotate, so no contender always runs first or last
    for name, cmd, kind, jobs, children, missing in plan[shift:] + plan[:shift]:
        if missing:
            results[name] = {"error": missing}
            continue
        ctx.server.fresh()
        try:
            if kind == "rq":
                fill_rq(ctx, jobs)
                key = "rq:queue:bench"
            else:
                fill_resque(ctx.server, jobs)
                key = "resque:queue:bench"
            results[name] = measure(ctx.server, cmd, ctx.env, BENCH, jobs, key,
                                    timeout=ctx.timeout(jobs), expected=children)
            results[name]["jobs"] = jobs
        except Exception as exc:  # one contender's trouble is its own row, not the bench's
            results[name] = {"error": "%s: %s" % (type(exc).__name__, exc)}
        m = results[name]
        log("  round %d  %-28s %s" % (round_no + 1, name, "n/a: " + m["error"] if "error" in m
                                      else "%.0f jobs/s" % m["jobs_per_s"]))
    return {name: results[name] for name, *_ in plan}


KEYS = ("jobs_per_s", "steady_jobs_per_s", "cmds_per_job", "trips_per_job",
        "steady_trips_per_job", "cpu_ms_per_job", "steady_cpu_ms_per_job", "child_rss_mb",
        "seconds")


def medians(rounds):
    out = {}
    for name in rounds[0]:
        runs = [r[name] for r in rounds if "error" not in r[name]]
        errors = [r[name]["error"] for r in rounds if "error" in r[name]]
        if not runs:
            out[name] = {"error": errors[0]}
            continue
        m = {"rounds": len(runs), "jobs": runs[0].get("jobs")}
        for key in KEYS:
            values = [run[key] for run in runs if run.get(key) is not None]
            m[key] = statistics.median(values) if values else None
        m["children_sampled"] = sum(run["children_sampled"] for run in runs)
        expected = [run["children_expected"] for run in runs]
        m["children_expected"] = None if None in expected else sum(expected)
        m["cmds_per_job_by_command"] = runs[-1]["cmds_per_job_by_command"]
        rss = [run["parent_rss_mb"] for run in runs if run["parent_rss_mb"]]
        m["parent_rss_mb"] = ({k: statistics.median(r[k] for r in rss)
                               for k in ("start", "end", "peak")} if rss else None)
        m["all_jobs_per_s"] = [run["jobs_per_s"] for run in runs]
        if errors:
            m["errors"] = errors
        out[name] = m
    return out


def drain(ctx, n, rounds):
    return medians([drain_round(ctx, n, i) for i in range(rounds)])


def drain_app(ctx, n, rounds):
    """The fork-per-job drain again with the ~100 MB app preloaded, floor, ceiling and forkq."""
    return medians([drain_round(ctx, n, i, app_contenders) for i in range(rounds)])


# --- 3. reserve cost with 1 vs 1,000 queues --------------------------------------------------

def many_queues(ctx, n, rounds):
    """forkq fork per job given 1 queue, then 1,000 queue names with the jobs in the last one
    (999 empty queues ahead of it: the worst case for a reserve that walks them in order),
    alternating, `rounds` times. The worker talks through the relay, which counts its round
    trips (the bench's own probes go straight to the server): the jobs/s here compare with
    each other, not with the drain table's."""
    labels = ("1 queue", "1,000 queues")
    if ctx.forkq_missing:
        return {label: {"error": ctx.forkq_missing} for label in labels}
    names = ["q%04d" % i for i in range(1000)]
    plan = {labels[0]: names[-1:], labels[1]: names}
    per_round = []
    with Relay(ctx.server.port) as relay:
        for i in range(rounds):
            results = {}
            for label in labels[i % 2:] + labels[:i % 2]:
                ctx.server.fresh()
                fill_resque(ctx.server, n, queue=names[-1])
                cmd = forkq_cmd(ctx, ",".join(plan[label]), url=relay.url)
                try:
                    results[label] = measure(ctx.server, cmd, ctx.env, BENCH, n,
                                             "resque:queue:" + names[-1],
                                             timeout=ctx.timeout(n), counter=relay, expected=n)
                except Exception as exc:
                    results[label] = {"error": "%s: %s" % (type(exc).__name__, exc)}
                m = results[label]
                log("  queues: round %d %-14s %s" % (
                    i + 1, label, m.get("error") or "%.0f jobs/s, %.2f trips/job"
                    % (m["jobs_per_s"], m["trips_per_job"])))
            per_round.append({label: results[label] for label in labels})
    return medians(per_round)
