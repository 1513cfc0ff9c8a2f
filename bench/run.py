"""forkq's benchmark against rq and the fork floor, measured in one run.

    python3 bench/run.py [--quick | --smoke] [--json OUT] [--rounds N] [--jobs N]

Any python3 will do: without forkq's dependencies it makes the test command's virtualenv
(bootstrap.py) and runs itself there.

Installs rq into bench/.venv (before the timed run), starts its own redis-server on a free
loopback port, and drains N queued no-op jobs with one worker of each kind, interleaved round
after round (the order rotates each round); prints medians with ratios to rq's forking Worker
and to the floor loop (bench/floor.py), wall-clock and steady state. Idle workers wait on
servers of their own meanwhile (their idle cost), then give idle → start latency; then reserve
cost across 1,000 queues, memory, and a verdict on each of the issue's targets.
Not part of the test suite's pass/fail: machines are noisy (tests only check that it runs).
"""
import argparse
import json
import os
import platform
import sys
import time
import traceback

import bootstrap

# before anything that needs psutil or redis-py: the system python3 of a fresh clone has neither
bootstrap.ensure(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), sys.argv)

from peers import BENCH, ROOT, env, forkq_version, log, rq_python  # noqa: E402

# the bench enqueues with forkq's own producer too: the repository, as the workers see it
sys.path.insert(1, ROOT)
from drain import drain, drain_app, many_queues  # noqa: E402
from latency import IdleSides, latency  # noqa: E402
from memory import memory  # noqa: E402
from scaling import scaling  # noqa: E402
from redisproc import RedisServer  # noqa: E402
from report import report, verdicts  # noqa: E402
from targets import verdicts14  # noqa: E402

# jobs per drain, rq Worker's jobs per drain (None: the same), latency samples, jobs per
# reserve-cost run, jobs in the long parent-RSS run, 100 MB app jobs, jobs per 100 MB app drain;
# scaling: worker counts, jobs per forkq pool run, jobs per rq worker-pool run.
# rq's forking Worker drains fewer jobs (it is 5x slower): its rates compare, and the full
# run stays under ~6 minutes on 2 cores.
SIZES = {
    "smoke": (30, None, 50, 30, 100, 3, 30, (1, 2), 60, 20),
    "quick": (200, 100, 50, 100, 2000, 6, 200, (1, 4), 300, 60),
    "full": (2000, 400, 60, 500, 20000, 20, 300, (1, 2, 4, 8), 600, 120),
}


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


def prepare_rq(ctx, skip):
    """rq's venv is made (pip install on first use) before the timed run starts."""
    ctx.rq_setup = 0.0
    if skip:
        ctx.rq, ctx.rq_missing = None, "left out (%s)" % skip
        return "rq left out (%s)" % skip
    log("rq: checking bench/.venv (installs rq on first use; not part of the timed run) …")
    began = time.monotonic()
    ctx.rq, ctx.rq_missing = rq_python()
    ctx.rq_setup = time.monotonic() - began
    if ctx.rq_missing:
        log("rq rows n/a: " + ctx.rq_missing)
        return "rq n/a (%s)" % ctx.rq_missing
    return "rq's venv made ready in %.1f s, before the timed run began" % ctx.rq_setup


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer jobs: under a minute")
    mode.add_argument("--smoke", action="store_true",
                      help="seconds: only checks that every part runs (the test suite's)")
    parser.add_argument("--rounds", type=int, default=3, help="drain rounds (at least 3)")
    parser.add_argument("--jobs", type=int, default=None, help="jobs per drain")
    parser.add_argument("--no-rq", action="store_true", help="leave rq out")
    parser.add_argument("--extras", action="store_true",
                        help="also drain with --no-fork-server (not an issue's target)")
    parser.add_argument("--json", default=os.path.join(BENCH, "results.json"))
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    (n, n_rq, samples, queue_jobs, long_n, app_jobs, app_n, counts, pool_jobs,
     rq_pool_jobs) = SIZES[mode]
    n = args.jobs or n

    ctx = Context()
    ctx.python = sys.executable
    setup = prepare_rq(ctx, "--smoke" if args.smoke else "--no-rq" if args.no_rq else None)
    with open("/proc/loadavg") as fh:
        loadavg = " ".join(fh.read().split()[:3])
    started = time.monotonic()  # the timed run: everything after rq's install
    ctx.latency_samples = samples
    ctx.rq_worker_jobs = None if args.jobs else n_rq
    ctx.rq_fills = {}
    # variants beyond the issues' lists: --extras (no fork server) or full mode (the 0.1 s poll)
    ctx.skip_no_fork_server = None if args.extras else "with --extras only"
    ctx.skip_poll_row = None if mode == "full" else "full mode only"
    ctx.timeout = lambda jobs: 30 + jobs / 20  # 20 jobs/s is 2x slower than rq's fork/job
    rounds = max(3, args.rounds)
    sides = None
    with RedisServer() as server:
        ctx.server = server
        ctx.env = env(server.url)
        forkq, why = forkq_version(ctx.env)
        ctx.forkq_missing = None if forkq else why
        result = {"mode": mode, "date": time.strftime("%Y-%m-%d %H:%M"),
                  "cores": os.cpu_count(), "python": platform.python_version(),
                  "redis": server.version, "forkq": forkq,
                  "rq": None if ctx.rq_missing else "3.0.0", "jobs": n, "rounds": rounds,
                  "loadavg": loadavg, "setup": setup,
                  "rq_setup_seconds": round(ctx.rq_setup, 1)}
        try:
            # the idle workers start first and wait, each on its own server, through the drain
            sides = run_section("idle workers", IdleSides, ctx)
            if isinstance(sides, dict):
                result["idle"], sides = sides, None
            else:
                run_section("idle workers ready", sides.start_window)
            result["drain"] = run_section("drain", drain, ctx, n, rounds)
            if sides:
                result["idle"] = run_section("idle cost", sides.end_window)
                result["latency"] = run_section("latency", latency, ctx, sides)
            else:
                result["latency"] = result["idle"]
        finally:
            if sides:
                sides.close()
        result["drain_app"] = run_section("drain, 100 MB app", drain_app, ctx, app_n, rounds)
        result["queues"] = run_section("queues", many_queues, ctx, queue_jobs, rounds)
        result["memory"] = run_section("memory", memory, ctx, long_n, app_jobs)
        result["scaling"] = run_section("scaling", scaling, ctx, counts, pool_jobs,
                                        rq_pool_jobs)
    notes = []
    if mode != "full":
        notes.append("%s mode: a %d-job parent RSS run (full: 20,000), no --interval 0.1 "
                     "latency row, fewer pool sizes; its drains are short, so "
                     "interpreter start-up weighs on every wall-clock rate (the steady-state "
                     "columns leave it out): judge the targets on a full run" % (mode, long_n))
    if mode == "smoke":
        notes.append("smoke mode checks that every part runs: its figures are not "
                     "measurements")
    notes.append("Ruby Resque is not measured (Debian packages Ruby but not Resque, and "
                 "RubyGems is out of this machine's reach)")
    result["notes"] = notes
    result["verdicts"] = verdicts(result)
    result["verdicts14"] = verdicts14(result)
    result["seconds"] = round(time.monotonic() - started, 1)
    print(report(result))
    print("\n(timed run %.0f s; %s; JSON in %s)" % (result["seconds"], setup, args.json))
    with open(args.json, "w") as fh:
        json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
