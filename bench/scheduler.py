"""The scheduler's two promises, measured: a due delayed job reaches its queue within 1 s of its
time at p99 with the defaults, and an idle master costs at most 2 Redis commands a second.

    python bench/scheduler.py              # 2,000 jobs due over 10 s; 10 s idle
    python bench/scheduler.py --quick      # 300 jobs over 4 s; 4 s idle
    python bench/scheduler.py --json OUT   # the figures as JSON too

Each contender runs with its own defaults on a redis-server of the bench's own: `forkq
scheduler` (1 s interval, ticks aimed just past each whole Redis second) and, when node and
node-resque are installed (tests/run.sh), node-resque's Scheduler (5 s poll) as the peer.
Jobs are enqueued with forkq.enqueue_at at random whole seconds 2 s to 2 s + SPREAD ahead;
the bench pops the queue as fast as it fills and stamps each job with the time it arrived.
Lag = arrival - the job's timestamp (Redis and the bench share this host's clock).

Idle cost: with nothing delayed, the commands Redis ran while the scheduler idled (INFO
commandstats, the bench's own INFO left out), per second: client commands (what the issue's
target counts: one EVALSHA a tick) and every command including those inside the script.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from redisproc import RedisServer  # noqa: E402

import forkq  # noqa: E402

NODE_PEER = os.path.join(ROOT, "tests", "node", "sched_peer.js")


def node_modules():
    cache = os.environ.get("FORKQ_NODE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "forkq-node")
    return os.path.join(cache, "node_modules")


class Forkq:
    name = "forkq scheduler (defaults)"

    def start(self, server):
        env = dict(os.environ, PYTHONPATH=ROOT)
        return subprocess.Popen([sys.executable, "-m", "forkq", "scheduler", "--redis-url",
                                 server.url], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def ready(self, server):
        return server.r.exists("resque:resque:resque_scheduler_master_lock")


class NodeResque:
    name = "node-resque Scheduler (defaults)"

    @staticmethod
    def available():
        return shutil.which("node") and os.path.isdir(os.path.join(node_modules(),
                                                                   "node-resque"))

    def start(self, server):
        env = dict(os.environ, NODE_PATH=node_modules())
        cmd = {"cmd": "scheduler", "port": server.port, "timeout_ms": 5000}
        return subprocess.Popen(["node", NODE_PEER, json.dumps(cmd)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready(self, server):
        return server.r.exists("resque:resque_scheduler_leader_lock")


def percentile(values, p):
    values = sorted(values)
    if not values:
        return None
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


def wait_ready(contender, server, proc):
    deadline = time.monotonic() + 20
    while not contender.ready(server):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("%s did not start" % contender.name)
        time.sleep(0.05)


def lag_run(contender, jobs, spread):
    server = RedisServer()
    proc = contender.start(server)
    try:
        wait_ready(contender, server, proc)
        r = server.r
        now = r.time()[0]
        due = {}
        for i in range(jobs):
            ts = now + 2 + random.randrange(spread)
            forkq.enqueue_at(ts, "Lag", i, queue="lag", connection=r)
            due[i] = ts
        last = max(due.values())
        lags = []
        deadline = time.monotonic() + spread + 30
        while len(lags) < jobs and time.monotonic() < deadline:
            popped = r.blpop(["resque:queue:lag"], timeout=1)
            if popped is None:
                continue
            arrived = time.time()
            batch = [popped[1]] + (r.lpop("resque:queue:lag", 1000) or [])
            for raw in batch:
                job = json.loads(raw)
                lags.append(arrived - due[job["args"][0]])
        early = sum(1 for x in lags if x < 0)
        return {"jobs": jobs, "arrived": len(lags), "early": early,
                "p50_ms": round(percentile(lags, 50) * 1000, 1),
                "p99_ms": round(percentile(lags, 99) * 1000, 1),
                "max_ms": round(max(lags) * 1000, 1), "last_due": last}
    finally:
        proc.terminate()
        proc.wait(10)
        server.stop()


def idle_run(contender, seconds):
    server = RedisServer()
    proc = contender.start(server)
    try:
        wait_ready(contender, server, proc)
        time.sleep(1.0)  # past start-up's one-off commands (script loads, first reads)
        before = server.r.info("commandstats")
        time.sleep(seconds)
        after = server.r.info("commandstats")

        def count(stats, names=None):
            return sum(v["calls"] for k, v in stats.items()
                       if not k.startswith(("cmdstat_info", "cmdstat_config")) and
                       (names is None or k in names))
        client = ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_zrangebyscore", "cmdstat_set",
                  "cmdstat_get", "cmdstat_expire", "cmdstat_lpop")
        if isinstance(contender, Forkq):
            client = ("cmdstat_evalsha", "cmdstat_eval")  # every other command runs inside
        total = count(after) - count(before)
        sent = count(after, client) - count(before, client)
        return {"seconds": seconds, "client_cmds_per_s": round(sent / seconds, 2),
                "all_cmds_per_s": round(total / seconds, 2)}
    finally:
        proc.terminate()
        proc.wait(10)
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--json", dest="json_out", default=None)
    opts = parser.parse_args()
    jobs = opts.jobs or (300 if opts.quick else 2000)
    spread = 4 if opts.quick else 10
    idle = 4 if opts.quick else 10
    contenders = [Forkq()] + ([NodeResque()] if NodeResque.available() else [])
    results = {"machine": os.uname().nodename, "load": os.getloadavg(), "contenders": {}}
    print("scheduler bench: %d jobs due over %d s; %d s idle; load %.2f" % (
        jobs, spread, idle, os.getloadavg()[0]))
    for contender in contenders:
        print("  %s ..." % contender.name, file=sys.stderr)
        lag = lag_run(contender, jobs, spread)
        cost = idle_run(contender, idle)
        results["contenders"][contender.name] = {"lag": lag, "idle": cost}
    print("%-36s %9s %9s %9s %6s %14s %14s" % ("contender", "p50 ms", "p99 ms", "max ms",
                                               "early", "idle cmds/s", "incl. script"))
    for name, res in results["contenders"].items():
        lag, cost = res["lag"], res["idle"]
        print("%-36s %9.1f %9.1f %9.1f %6d %14.2f %14.2f" % (
            name, lag["p50_ms"], lag["p99_ms"], lag["max_ms"], lag["early"],
            cost["client_cmds_per_s"], cost["all_cmds_per_s"]))
    ours = results["contenders"][Forkq.name]
    targets = [("due -> queue p99 <= 1 s (defaults)", ours["lag"]["p99_ms"] <= 1000),
               ("nothing moved early", ours["lag"]["early"] == 0),
               ("every job arrived", ours["lag"]["arrived"] == jobs),
               ("idle master <= 2 Redis commands/s", ours["idle"]["client_cmds_per_s"] <= 2)]
    for text, ok in targets:
        print("%-40s %s" % (text, "met" if ok else "MISSED"))
    results["targets"] = {text: ok for text, ok in targets}
    if opts.json_out:
        with open(opts.json_out, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0 if all(ok for _text, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
