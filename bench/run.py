"""forkq's benchmark against rq and the fork floor, measured in one run.

    python bench/run.py [--quick | --smoke] [--json OUT] [--rounds N] [--jobs N]

Starts its own redis-server on a free loopback port, installs rq into bench/.venv, and drains
N queued no-op jobs with one worker of each kind, interleaved round after round (the order
rotates each round); prints medians with ratios to rq's forking Worker and to the floor loop
(bench/floor.py). Then idle → start latency, reserve cost across 1,000 queues, and memory.
Not part of the test suite's pass/fail: machines are noisy (tests only check that it runs).
"""
import argparse
import json
import math
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import psutil

from peers import BENCH, ROOT, env, forkq_version, rq_python

# the bench enqueues with forkq's own producer too: the repository, as the workers see it
sys.path.insert(1, ROOT)
from redisproc import RedisServer
from sampler import Tree, measure

PY = sys.executable
FLOOR = "floor (redis-py, fork)"
RQ_FORK = "rq Worker (fork per job)"


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# --- filling queues (not measured) -----------------------------------------------------------

def fill_resque(server, n, queue="bench", job="Noop"):
    """What Ruby's Resque.enqueue writes: SADD resque:queues + RPUSH of compact JSON."""
    pipe = server.r.pipeline(transaction=False)
    pipe.sadd("resque:queues", queue)
    for i in range(n):
        pipe.rpush("resque:queue:" + queue, '{"class":"%s","args":[%d]}' % (job, i))
    pipe.execute()


def fill_rq(ctx, n):
    """rq's own enqueue, run once in the venv (0.5 s of start-up); the keys it wrote are kept
    as DUMPs and RESTOREd for later rounds: the same bytes, without another interpreter."""
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

def contenders(ctx):
    """(name, command, kind, missing): kind picks the queue format; missing says why it can't
    run here (then every round reports it n/a)."""
    url = ctx.server.url
    forkq = [PY, "-m", "forkq", "work", "--burst", "--queues", "bench",
             "--require", "jobs_forkq", "--redis-url", url]
    rq = [ctx.rq or "rq-python", "-m", "rq.cli", "worker", "--burst", "--url", url,
          "--quiet"]
    return [
        (FLOOR, [PY, "floor.py", url], "resque", None),
        ("floor without fork", [PY, "floor.py", url, "--no-fork"], "resque", None),
        ("forkq fork per job", forkq, "resque", ctx.forkq_missing),
        ("forkq --no-fork-server", forkq + ["--no-fork-server"], "resque",
         ctx.forkq_missing or ctx.skip_no_fork_server),
        ("forkq --jobs-per-child 100", forkq + ["--jobs-per-child", "100"], "resque",
         ctx.forkq_missing),
        (RQ_FORK, rq + ["bench"], "rq", ctx.rq_missing),
        ("rq SimpleWorker", rq + ["-w", "rq.worker.SimpleWorker", "bench"], "rq",
         ctx.rq_missing),
    ]


def drain_round(ctx, n, round_no):
    results = {}
    plan = contenders(ctx)
    shift = round_no % len(plan)  # rotate, so no contender always runs first or last
    for name, cmd, kind, missing in plan[shift:] + plan[:shift]:
        if missing:
            results[name] = {"error": missing}
            continue
        ctx.server.fresh()
        try:
            if kind == "rq":
                fill_rq(ctx, n)
                key = "rq:queue:bench"
            else:
                fill_resque(ctx.server, n)
                key = "resque:queue:bench"
            results[name] = measure(ctx.server, cmd, ctx.env, BENCH, n, key,
                                    timeout=ctx.timeout(n))
        except Exception as exc:  # one contender's trouble is its own row, not the bench's
            results[name] = {"error": "%s: %s" % (type(exc).__name__, exc)}
        m = results[name]
        log("  round %d  %-28s %s" % (round_no + 1, name, "n/a: " + m["error"] if "error" in m
                                      else "%.0f jobs/s" % m["jobs_per_s"]))
    return {name: results[name] for name, *_ in plan}


def medians(rounds):
    out = {}
    for name in rounds[0]:
        runs = [r[name] for r in rounds if "error" not in r[name]]
        errors = [r[name]["error"] for r in rounds if "error" in r[name]]
        if not runs:
            out[name] = {"error": errors[0]}
            continue
        m = {"rounds": len(runs)}
        for key in ("jobs_per_s", "steady_jobs_per_s", "cmds_per_job", "cpu_ms_per_job",
                    "steady_cpu_ms_per_job", "child_rss_mb", "seconds"):
            values = [run[key] for run in runs if run.get(key) is not None]
            m[key] = statistics.median(values) if values else None
        m["children_sampled"] = sum(run["children_sampled"] for run in runs)
        m["cmds_per_job_by_command"] = runs[-1]["cmds_per_job_by_command"]
        rss = [run["parent_rss_mb"] for run in runs if run["parent_rss_mb"]]
        m["parent_rss_mb"] = ({k: statistics.median(r[k] for r in rss)
                               for k in ("start", "end", "peak")} if rss else None)
        m["all_jobs_per_s"] = [run["jobs_per_s"] for run in runs]
        if errors:
            m["errors"] = errors
        out[name] = m
    return out


# --- 2. idle → start latency -----------------------------------------------------------------

class IdleWorker:
    """A non-burst worker started and left waiting; stopped with TERM (then KILL) at the end."""

    def __init__(self, ctx, cmd, registered_key):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, env=ctx.env, cwd=BENCH, stdout=subprocess.DEVNULL,
                                     stderr=self.err, start_new_session=True)
        deadline = time.monotonic() + 30
        while not ctx.server.r.scard(registered_key):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.err.seek(0)
                tail = self.err.read().decode("utf-8", "replace").strip()[-300:]
                self.stop()
                raise RuntimeError("worker did not start (%s)" % tail.replace("\n", " | "))
            time.sleep(0.01)
        time.sleep(0.2)  # registered comes just before the first poll: let it settle

    def stop(self):
        pid = self.proc.pid
        if self.proc.returncode is None:
            self.proc.terminate()
            deadline = time.monotonic() + 15
            # wait for the exit without reaping it: while the leader is a zombie its process
            # group id cannot go to anyone else, so the KILL below reaches only what we started
            while time.monotonic() < deadline:
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                    break
                time.sleep(0.01)
            try:
                os.killpg(pid, signal.SIGKILL)  # anything of its session left over
            except OSError:
                pass
        self.proc.wait()
        self.err.close()


def idle_cost(server, seconds):
    """Redis commands per second an idle worker costs. A blocking command (rq's BLPOP) only
    counts when it returns, so a worker blocked for the whole window shows 0."""
    calls0, t0 = server.calls(), time.monotonic()
    time.sleep(seconds)
    return (server.calls() - calls0) / (time.monotonic() - t0)


def percentiles(values):
    values = sorted(v * 1000 for v in values)
    if not values:
        return {"error": "no samples"}

    def pick(q):  # nearest rank: the smallest value with at least q of the samples at or below
        return values[min(len(values), max(1, math.ceil(q * len(values)))) - 1]
    return {"p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": values[-1],
            "samples": len(values)}


def stamp_samples(server, push, count, spacing):
    """Push one Stamp job at a time into the idle worker and wait for it to start; the job
    RPUSHes time.time() at its start. A first, unkept push warms the worker up."""
    values = []
    for i in range(count + 1):
        time.sleep(random.uniform(*spacing))  # no fixed phase against the worker's poll
        began = time.time()
        push()
        got = server.r.blpop(["stamps"], timeout=30)
        if got is None:
            raise RuntimeError("job not started within 30 s (%d samples so far)" % len(values))
        if i:
            values.append(float(got[1]) - began)
    return values


def latency(ctx):
    out = {}
    server = ctx.server
    samples = ctx.latency_samples
    idle = ctx.idle_windows  # seconds to count an idle worker's commands over, or None
    forkq = [PY, "-m", "forkq", "work", "--queues", "lat", "--require", "jobs_latency",
             "--redis-url", server.url]
    raw_json = '{"class":"Stamp","args":["stamps"]}'

    def raw_push():
        # what Ruby's Resque.enqueue (or any non-forkq producer) writes: no wake-up message
        server.r.sadd("resque:queues", "lat")
        server.r.rpush("resque:queue:lat", raw_json)

    producer = None
    if not ctx.forkq_missing:
        import forkq as forkq_api
        producer = forkq_api.Producer(server.r, namespace="resque")

    runs = [
        # name, extra args, keyspace events, push, samples, spacing (s), idle cost window (s)
        ("forkq (forkq.enqueue)", [], "",
         lambda: producer.enqueue("Stamp", "stamps", queue="lat"), samples, (0.02, 0.05),
         idle and idle["forkq"]),
        ("forkq (raw RPUSH, keyspace events on)", [], "Kl", raw_push, samples, (0.02, 0.05),
         None),
        ("forkq (raw RPUSH, --interval 0.1)", ["--interval", "0.1"], "", raw_push, samples,
         (0.0, 0.1), idle and idle["fast"]),
        ("forkq (raw RPUSH, default 5 s poll)", [], "", raw_push, ctx.poll_samples,
         (0.0, 5.0), None),
    ]
    for name, extra, events, push, count, spacing, window in runs:
        if ctx.forkq_missing:
            out[name] = {"error": ctx.forkq_missing}
            continue
        if not count:
            out[name] = {"error": "skipped in this mode (about interval/2 by construction)"}
            continue
        log("  latency: " + name)
        server.fresh()
        server.r.config_set("notify-keyspace-events", events)
        worker = None
        try:
            worker = IdleWorker(ctx, forkq + extra, "resque:workers")
            rate = idle_cost(server, window) if window else None
            out[name] = dict(percentiles(stamp_samples(server, push, count, spacing)),
                             idle_cmds_per_s=rate)
        except Exception as exc:
            out[name] = {"error": "%s: %s" % (type(exc).__name__, exc)}
        finally:
            if worker:
                worker.stop()
            server.r.config_set("notify-keyspace-events", "")

    name = "rq Worker"
    if ctx.rq_missing:
        out[name] = {"error": ctx.rq_missing}
        return out
    log("  latency: " + name)
    server.fresh()
    worker = None
    try:
        worker = IdleWorker(ctx, [ctx.rq, "-m", "rq.cli", "worker", "--url", server.url,
                                  "--quiet", "lat"], "rq:workers")
        rate = idle_cost(server, idle["rq"]) if idle else None
        done = subprocess.run([ctx.rq, os.path.join(BENCH, "rq_driver.py"), "latency",
                               server.url, str(samples)], capture_output=True, text=True,
                              env=ctx.env, cwd=BENCH, timeout=300)
        if done.returncode:
            raise RuntimeError(done.stderr.strip()[-300:])
        out[name] = dict(percentiles(json.loads(done.stdout)), idle_cmds_per_s=rate)
    except Exception as exc:
        out[name] = {"error": "%s: %s" % (type(exc).__name__, exc)}
    finally:
        if worker:
            worker.stop()
    return out


# --- 3. reserve cost with 1 vs 1,000 queues --------------------------------------------------

def many_queues(ctx, n):
    """forkq fork per job given 1 queue, then 1,000 queue names with the jobs in the last one
    (999 empty queues ahead of it: the worst case for a reserve that walks them in order)."""
    out = {}
    names = ["q%04d" % i for i in range(1000)]
    for label, queues in (("1 queue", names[-1:]), ("1,000 queues", names)):
        if ctx.forkq_missing:
            out[label] = {"error": ctx.forkq_missing}
            continue
        ctx.server.fresh()
        fill_resque(ctx.server, n, queue=names[-1])
        cmd = [PY, "-m", "forkq", "work", "--burst", "--queues", ",".join(queues),
               "--require", "jobs_forkq", "--redis-url", ctx.server.url]
        try:
            out[label] = measure(ctx.server, cmd, ctx.env, BENCH, n,
                                 "resque:queue:" + names[-1], timeout=ctx.timeout(n))
        except Exception as exc:
            out[label] = {"error": "%s: %s" % (type(exc).__name__, exc)}
        log("  queues: %-14s %s" % (label, out[label].get("error") or
                                    "%.0f jobs/s" % out[label]["jobs_per_s"]))
    return out


# --- 4. memory -------------------------------------------------------------------------------

def memory(ctx, long_n, app_jobs):
    out = {}
    if ctx.forkq_missing:
        return {"error": ctx.forkq_missing}
    server = ctx.server
    if long_n:
        # parent RSS from 5 % of the jobs done (imports, connections and first forks behind
        # it) to the last sample before exit: what a long-lived parent would keep growing by
        log("  memory: parent RSS over %d jobs" % long_n)
        server.fresh()
        fill_resque(server, long_n)
        cmd = [PY, "-m", "forkq", "work", "--burst", "--queues", "bench",
               "--require", "jobs_forkq", "--redis-url", server.url]
        try:
            m = measure(server, cmd, ctx.env, BENCH, long_n, "resque:queue:bench",
                        timeout=ctx.timeout(long_n))
        except Exception as exc:
            m = {"error": "%s: %s" % (type(exc).__name__, exc)}
        if "error" in m:
            out["long_run"] = m
        else:
            rss = m["parent_rss_mb"]
            out["long_run"] = {"jobs": long_n, "jobs_per_s": m["jobs_per_s"],
                               "parent_rss_start_mb": rss["start"],
                               "parent_rss_end_mb": rss["end"],
                               "parent_rss_growth_mb": rss["end"] - rss["start"]}
    for label, extra in (("fork server (default)", []),
                         ("--no-fork-server", ["--no-fork-server"])):
        log("  memory: 100 MB app, " + label)
        try:
            out["app " + label] = app_memory(ctx, extra, app_jobs)
        except Exception as exc:
            out["app " + label] = {"error": "%s: %s" % (type(exc).__name__, exc)}
    return out


def app_memory(ctx, extra, jobs):
    """An idle forkq worker that preloaded ~100 MB of Python objects (bench/bigapp.py) runs
    `jobs` jobs that sleep 50 ms; each child's USS (pages only it holds: what forking really
    costs) and peak RSS (shared pages included) are sampled while it runs."""
    server = ctx.server
    server.fresh()
    tree = Tree()
    worker = IdleWorker(ctx, [PY, "-m", "forkq", "work", "--queues", "mem", "--require",
                              "bigapp", "--redis-url", server.url] + extra, "resque:workers")
    try:
        tree.start(worker.proc.pid)
        parent_rss = psutil.Process(worker.proc.pid).memory_info().rss
        import forkq as forkq_api
        producer = forkq_api.Producer(server.r, namespace="resque")
        for _ in range(jobs):  # forkq's enqueue also wakes the idle worker (PUBLISH)
            producer.enqueue("Hold", 0.05, queue="mem")
        deadline = time.monotonic() + 30 + jobs
        while int(server.r.get("resque:stat:processed") or 0) < jobs:
            if time.monotonic() > deadline:
                raise RuntimeError("jobs not done in time")
            tree.tick(uss=True)
            time.sleep(0.005)
        helpers = []
        for pid in tree.helpers:
            try:
                helpers.append(psutil.Process(pid).memory_full_info().uss)
            except psutil.Error:
                pass
    finally:
        worker.stop()
    if not tree.uss:
        return {"error": "no child caught running"}
    return {"parent_rss_mb": parent_rss / 1e6,
            "child_uss_mb": statistics.median(tree.uss.values()) / 1e6,
            "child_rss_mb": statistics.median(tree.peak.values()) / 1e6,
            "fork_server_uss_mb": helpers[0] / 1e6 if helpers else None,
            "children_sampled": len(tree.uss)}


# --- report ----------------------------------------------------------------------------------

def _f(value, fmt):
    return "-" if value is None else fmt % value


def report(result):
    lines = ["forkq benchmark (%s mode) — %s, %d cores, Python %s, redis %s, forkq %s, rq %s"
             % (result["mode"], result["date"], result["cores"], result["python"],
                result["redis"], result["forkq"] or "n/a", result["rq"] or "n/a"),
             "one worker drains %d queued no-op jobs; medians of %d interleaved rounds"
             % (result["jobs"], result["rounds"]), ""]
    drain = result["drain"]
    if "error" in drain:
        lines.append("drain: n/a (%s)" % drain["error"])
        drain = {}
    rq_fork = drain.get(RQ_FORK, {}).get("jobs_per_s")
    floor = drain.get(FLOOR, {}).get("jobs_per_s")
    head = "%-28s %8s %6s %6s %8s %8s %8s %8s %8s %13s"
    lines.append(head % ("worker", "jobs/s", "×rq", "×floor", "steady/s", "cmds/job",
                         "cpu ms/j", "steady ms", "child MB", "parent MB"))
    for name, m in drain.items():
        if "error" in m:
            lines.append("%-28s n/a (%s)" % (name, m["error"][:150]))
            continue
        rss = m["parent_rss_mb"]
        lines.append(head % (
            name, "%.0f" % m["jobs_per_s"],
            _f(rq_fork and m["jobs_per_s"] / rq_fork, "%.2f"),
            _f(floor and m["jobs_per_s"] / floor, "%.2f"),
            _f(m["steady_jobs_per_s"], "%.0f"), "%.2f" % m["cmds_per_job"],
            "%.2f" % m["cpu_ms_per_job"], _f(m["steady_cpu_ms_per_job"], "%.2f"),
            _f(m["child_rss_mb"], "%.1f"),
            "%.1f→%.1f" % (rss["start"], rss["end"]) if rss else "-"))
    lines += ["", "Redis commands per job, by command (a script's inner commands count too)"]
    for name, m in drain.items():
        if "error" not in m:
            parts = ["%s %.2f" % (k.lower(), v)
                     for k, v in m["cmds_per_job_by_command"].items() if v >= 0.05]
            more = ", … %d more kinds (JSON)" % (len(parts) - 10) if len(parts) > 10 else ""
            lines.append("  %-28s %s%s" % (name, ", ".join(parts[:10]), more))
    lines += ["", "idle → start latency (one job pushed into a waiting worker; until the job "
                  "itself starts)"]
    for name, m in _section(result["latency"]):
        if "error" in m:
            lines.append("  %-40s n/a (%s)" % (name, m["error"][:150]))
            continue
        idle = ("   idle %.2f cmds/s" % m["idle_cmds_per_s"]
                if m.get("idle_cmds_per_s") is not None else "")
        lines.append("  %-40s p50 %8.1f ms  p99 %8.1f ms  (%d samples)%s"
                     % (name, m["p50_ms"], m["p99_ms"], m["samples"], idle))
    lines += ["", "reserve cost, forkq fork per job, jobs in the last queue named"]
    for name, m in _section(result["queues"]):
        if "error" in m:
            lines.append("  %-14s n/a (%s)" % (name, m["error"][:150]))
        else:
            lines.append("  %-14s %7.0f jobs/s  %8.1f cmds/job  %6.2f cpu ms/job"
                         % (name, m["jobs_per_s"], m["cmds_per_job"], m["cpu_ms_per_job"]))
    lines += ["", "memory (forkq)"]
    for name, m in _section(result["memory"]):
        if "error" in m:
            lines.append("  %-30s n/a (%s)" % (name, m["error"][:150]))
        elif name == "long_run":
            lines.append("  parent RSS over %d jobs: %.1f MB at 5 %% done → %.1f MB at the end "
                         "(%+.1f MB)" % (m["jobs"], m["parent_rss_start_mb"],
                                         m["parent_rss_end_mb"], m["parent_rss_growth_mb"]))
        else:
            lines.append("  100 MB preloaded app, %-22s parent RSS %.0f MB, child USS %.2f MB "
                         "(RSS %.0f MB), %d children" % (
                             name[4:] + ":", m["parent_rss_mb"], m["child_uss_mb"],
                             m["child_rss_mb"], m["children_sampled"]))
    if result.get("notes"):
        lines += [""] + ["note: " + n for n in result["notes"]]
    return "\n".join(lines)


def _section(section):
    if "error" in section:
        return [("(all)", section)]
    return list(section.items())


# --- main ------------------------------------------------------------------------------------

class Context:
    """What every section needs: the server, the peers (or why they're missing), the sizes."""


def run_section(name, fn, *args):
    log("%s …" % name)
    began = time.monotonic()
    try:
        return fn(*args)
    except Exception as exc:
        traceback.print_exc()
        return {"error": "%s: %s" % (type(exc).__name__, exc)}
    finally:
        log("%s done in %.1f s" % (name, time.monotonic() - began))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer jobs: under a minute")
    mode.add_argument("--smoke", action="store_true",
                      help="seconds: only checks that every part runs (the test suite's)")
    parser.add_argument("--rounds", type=int, default=3, help="drain rounds (at least 3)")
    parser.add_argument("--jobs", type=int, default=None, help="jobs per drain")
    parser.add_argument("--no-rq", action="store_true", help="leave rq out")
    parser.add_argument("--json", default=os.path.join(BENCH, "results.json"))
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = {  # jobs, latency samples, default-poll samples, idle windows (forkq's default
               # polls every 5 s; --interval 0.1; rq), queues jobs, long run, app jobs
        "smoke": (30, 3, 0, None, 30, 0, 3),
        "quick": (300, 20, 0, {"forkq": 5.5, "fast": 1.0, "rq": 2.0}, 300, 0, 10),
        "full": (2000, 60, 6, {"forkq": 11.0, "fast": 3.0, "rq": 11.0}, 1000, 20000, 20),
    }[mode]
    n = args.jobs or sizes[0]
    started = time.monotonic()

    ctx = Context()
    if args.smoke or args.no_rq:
        ctx.rq, ctx.rq_missing = None, "left out (%s)" % ("--smoke" if args.smoke else "--no-rq")
    else:
        log("rq: checking bench/.venv …")
        ctx.rq, ctx.rq_missing = rq_python()
        if ctx.rq_missing:
            log("rq rows n/a: " + ctx.rq_missing)
    ctx.latency_samples, ctx.poll_samples, ctx.idle_windows = sizes[1], sizes[2], sizes[3]
    ctx.rq_fills = {}
    # a variant beyond the brief's list: full mode only, to keep --quick under a minute
    ctx.skip_no_fork_server = None if mode == "full" else "full mode only"
    ctx.timeout = lambda jobs: 30 + jobs / 20  # 20 jobs/s is 4x slower than rq's fork/job
    notes = []
    with RedisServer() as server:
        ctx.server = server
        ctx.env = env(server.url)
        forkq, why = forkq_version(ctx.env)
        ctx.forkq_missing = None if forkq else why
        rounds = max(3, args.rounds)
        result = {"mode": mode, "date": time.strftime("%Y-%m-%d %H:%M"),
                  "cores": os.cpu_count(), "python": platform.python_version(),
                  "redis": server.version, "forkq": forkq, "rq": None if ctx.rq_missing
                  else "3.0.0", "jobs": n, "rounds": rounds}

        def drain():
            per_round = []
            for i in range(rounds):
                per_round.append(drain_round(ctx, n, i))
            return medians(per_round)
        result["drain"] = run_section("drain", drain)
        result["latency"] = run_section("latency", latency, ctx)
        result["queues"] = run_section("queues", many_queues, ctx, sizes[4])
        result["memory"] = run_section("memory", memory, ctx, sizes[5], sizes[6])
    if mode != "full":
        notes.append("%s mode: no 20,000-job parent RSS run, no --no-fork-server drain, no "
                     "default-poll latency row" % mode)
    notes.append("Ruby Resque is not measured (Debian packages Ruby but not Resque, and "
                 "RubyGems is out of this machine's reach)")
    result["notes"] = notes
    result["seconds"] = round(time.monotonic() - started, 1)
    text = report(result)
    print(text)
    print("\n(%.0f s; JSON in %s)" % (result["seconds"], args.json))
    with open(args.json, "w") as fh:
        json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
