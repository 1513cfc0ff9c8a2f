"""forkq's benchmark against rq and the fork floor, measured in one run.

    python bench/run.py [--quick] [--json bench/results.json] [--rounds N]

Starts its own redis-server on a free loopback port, installs rq into bench/.venv, and drains
N queued no-op jobs with one worker of each kind, interleaved, round after round; prints the
medians with ratios to rq's forking Worker and to the floor loop (bench/floor.py), then idle →
start latency, Redis commands per job, reserve cost across 1,000 queues, and memory. Not part of
the test suite's pass/fail: CI machines are noisy (a smoke test only checks that it runs).
"""
import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import psutil
import redis

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
VENV = os.path.join(BENCH, ".venv")


class Server:
    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="forkq-bench-")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL)
        self.url = "redis://127.0.0.1:%d/0" % self.port
        self.r = redis.Redis(host="127.0.0.1", port=self.port)
        for _ in range(200):
            try:
                self.r.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def calls(self):
        """Total commands executed so far (INFO commandstats, scripts' inner calls included)."""
        stats = self.r.info("commandstats")
        return sum(v["calls"] for k, v in stats.items()
                   if not k.startswith(("cmdstat_info", "cmdstat_config")))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def rq_python():
    """bench/.venv with rq 3.0, made once; None (with the reason) if it cannot be had."""
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    ok = subprocess.run([python, "-c", "import rq"], capture_output=True).returncode == 0
    if not ok:
        done = subprocess.run([python, "-m", "pip", "install", "-q", "rq==3.0.0"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return None, "pip install rq failed: " + done.stderr[-300:]
    return python, None


def env(server):
    e = dict(os.environ, BENCH_REDIS_URL=server.url, PYTHONPATH=BENCH + os.pathsep + ROOT)
    e.pop("FORKQ_QUEUES", None)
    return e


def fill_resque(server, n, queue="bench", job="Noop"):
    pipe = server.r.pipeline(transaction=False)
    pipe.sadd("resque:queues", queue)
    for i in range(n):
        pipe.rpush("resque:queue:" + queue, '{"class":"%s","args":[%d]}' % (job, i))
    pipe.execute()


def measure(server, cmd, environ, n, timeout):
    """Run a draining worker; time it, count Redis commands, sample parent and child memory."""
    calls0 = server.calls()
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, env=environ, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=BENCH)
    rss, child_rss = [], []
    try:
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                rss.append(ps.memory_info().rss)
                for c in ps.children(recursive=True):
                    child_rss.append(c.memory_info().rss)
            except psutil.Error:
                pass
            if time.perf_counter() - began > timeout:
                proc.kill()
                return {"error": "timed out after %d s" % timeout}
            time.sleep(0.01)
    finally:
        proc.wait()
    took = time.perf_counter() - began
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    if proc.returncode != 0:
        return {"error": "exit status %d" % proc.returncode}
    return {"seconds": took, "jobs_per_s": n / took, "cmds_per_job": (server.calls() - calls0) / n,
            "cpu_ms_per_job": 1000 * cpu / n,
            "parent_rss_mb": (rss[0] / 1e6, max(rss) / 1e6) if rss else None,
            "child_rss_mb": statistics.median(child_rss) / 1e6 if child_rss else None}


def contenders(server, rq, quick):
    forkq = [sys.executable, "-m", "forkq", "work", "--burst", "-q", "bench",
             "-r", "jobs_forkq", "--redis-url", server.url]
    out = [("floor (redis-py, fork)", [sys.executable, "floor.py", server.url], "resque"),
           ("floor without fork", [sys.executable, "floor.py", server.url, "--no-fork"],
            "resque"),
           ("forkq fork per job", forkq, "resque"),
           ("forkq --no-fork-server", forkq + ["--no-fork-server"], "resque"),
           ("forkq --jobs-per-child 100", forkq + ["--jobs-per-child", "100"], "resque")]
    if rq:
        rq_cmd = [rq, "-m", "rq.cli", "worker", "--burst", "--url", server.url, "-q"]
        out += [("rq Worker (fork per job)", rq_cmd + ["bench"], "rq"),
                ("rq SimpleWorker", rq_cmd + ["-w", "rq.worker.SimpleWorker", "bench"], "rq")]
    return out


def drain_round(server, rq, n, quick):
    results = {}
    for name, cmd, kind in contenders(server, rq, quick):
        server.r.flushall()
        if kind == "rq":
            subprocess.run([rq, os.path.join(BENCH, "rq_driver.py"), "fill", server.url,
                            str(n)], check=True, env=env(server), cwd=BENCH)
        else:
            fill_resque(server, n)
        results[name] = measure(server, cmd, env(server), n, timeout=120)
    return results


def latency(server, rq, samples, quick=False, smoke=False):
    """Idle → start: one job pushed into an idle worker, start time as the job records it."""
    out = {}
    forkq = [sys.executable, "-m", "forkq", "work", "-q", "lat", "-r", "jobs_latency",
             "--redis-url", server.url]
    runs = [("forkq (forkq.enqueue)", forkq, "publish"),
            ("forkq (raw RPUSH, keyspace events on)", forkq, "keyspace"),
            ("forkq (raw RPUSH, default 5 s poll)", forkq, "raw")]
    for name, cmd, how in runs:
        server.r.flushall()
        server.r.config_set("notify-keyspace-events", "Kl" if how == "keyspace" else "")
        proc = subprocess.Popen(cmd, env=env(server), cwd=BENCH, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            _wait_registered(server)
            if how == "raw" and smoke:
                continue
            count = samples if how != "raw" else (2 if quick else 5)
            values = []
            import forkq as forkq_api
            producer = forkq_api.Producer(server.r)
            idle_rate = (idle_cost(server, 5.5 if quick else 11.0)
                         if how == "publish" and not smoke else None)
            for _ in range(count):
                began = time.time()
                if how == "publish":
                    producer.enqueue("Stamp", "stamps", queue="lat")
                else:
                    server.r.sadd("resque:queues", "lat")
                    server.r.rpush("resque:queue:lat", '{"class":"Stamp","args":["stamps"]}')
                _key, value = server.r.blpop(["stamps"], timeout=30)
                values.append(float(value) - began)
                time.sleep(0.02)
            out[name] = _percentiles(values) | {"idle_cmds_per_s": idle_rate}
        finally:
            proc.terminate()
            proc.wait(10)
    server.r.config_set("notify-keyspace-events", "")
    if rq:
        server.r.flushall()
        proc = subprocess.Popen([rq, "-m", "rq.cli", "worker", "--url", server.url, "bench"],
                                env=env(server), cwd=BENCH, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            idle_rate = idle_cost(server, 5.5 if quick else 11.0)
            done = subprocess.run([rq, os.path.join(BENCH, "rq_driver.py"), "latency",
                                   server.url, str(samples)], capture_output=True, text=True,
                                  env=env(server), cwd=BENCH, timeout=300)
            values = json.loads(done.stdout)
            out["rq Worker"] = _percentiles(values) | {"idle_cmds_per_s": idle_rate}
        except (ValueError, subprocess.SubprocessError) as exc:
            out["rq Worker"] = {"error": str(exc)}
        finally:
            proc.terminate()
            proc.wait(10)
    return out


def idle_cost(server, seconds=11.0):
    """Redis commands per second an idle worker costs (two 5 s polls and a heartbeat)."""
    calls0, t0 = server.calls(), time.time()
    time.sleep(seconds)
    return (server.calls() - calls0) / (time.time() - t0)


def _wait_registered(server):
    for _ in range(500):
        if server.r.scard("resque:workers"):
            return
        time.sleep(0.01)


def _percentiles(values):
    values = sorted(v * 1000 for v in values)
    return {"p50_ms": values[len(values) // 2],
            "p99_ms": values[min(len(values) - 1, int(len(values) * 0.99))],
            "samples": len(values)}


def many_queues(server, n):
    """Reserve cost with 1 vs 1,000 queues (999 empty, the jobs in the last)."""
    out = {}
    names = ["q%04d" % i for i in range(1000)]
    for label, queues in (("1 queue", ["q0999"]), ("1,000 queues", names)):
        server.r.flushall()
        fill_resque(server, n, queue="q0999")
        cmd = [sys.executable, "-m", "forkq", "work", "--burst", "-q", ",".join(queues),
               "-r", "jobs_forkq", "--redis-url", server.url]
        out[label] = measure(server, cmd, env(server), n, timeout=120)
    return out


def memory(server, long_n):
    """Parent RSS growth over a long drain, and child USS with a 100 MB preloaded app."""
    out = {}
    if long_n:
        # RSS once the worker is warm (after the first 1,000 jobs) against RSS at the end
        server.r.flushall()
        fill_resque(server, long_n)
        proc = subprocess.Popen([sys.executable, "-m", "forkq", "work", "-q", "bench",
                                 "-r", "jobs_forkq", "--redis-url", server.url],
                                env=env(server), cwd=BENCH, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            ps = psutil.Process(proc.pid)
            warm = last = None
            deadline = time.time() + 600
            while time.time() < deadline:
                done = int(server.r.get("resque:stat:processed") or 0)
                if warm is None and done >= 1000:
                    warm = ps.memory_info().rss
                last = ps.memory_info().rss
                if done >= long_n:
                    break
                time.sleep(0.05)
            if warm is not None:
                out["parent_rss_growth_mb"] = (last - warm) / 1e6
                out["long_run_jobs"] = long_n - 1000
        finally:
            proc.terminate()
            proc.wait(10)
    server.r.flushall()
    proc = subprocess.Popen([sys.executable, "-m", "forkq", "work", "-q", "mem", "-r", "bigapp",
                             "--redis-url", server.url], env=env(server), cwd=BENCH,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_registered(server)
        ps = psutil.Process(proc.pid)
        uss = []
        import forkq as forkq_api
        producer = forkq_api.Producer(server.r)
        for _ in range(5):
            producer.enqueue("Hold", 0.4, queue="mem")
            time.sleep(0.25)
            for c in ps.children(recursive=True):
                if "Processing" in " ".join(c.cmdline()):
                    uss.append(c.memory_full_info().uss)
            time.sleep(0.3)
        out["app_parent_rss_mb"] = ps.memory_info().rss / 1e6
        out["app_child_uss_mb"] = statistics.median(uss) / 1e6 if uss else None
    finally:
        proc.terminate()
        proc.wait(10)
    return out


def medians(rounds):
    out = {}
    for name in rounds[0]:
        runs = [r[name] for r in rounds if "error" not in r[name]]
        if not runs:
            out[name] = {"error": rounds[0][name]["error"]}
            continue
        out[name] = {key: statistics.median(run[key] for run in runs)
                     for key in ("jobs_per_s", "cmds_per_job", "cpu_ms_per_job")}
        out[name]["child_rss_mb"] = statistics.median(
            [run["child_rss_mb"] for run in runs if run["child_rss_mb"]] or [0])
        out[name]["parent_rss_mb"] = runs[-1]["parent_rss_mb"]
        out[name]["rounds"] = len(runs)
    return out


def report(result):
    drain = result["drain"]
    rq_fork = drain.get("rq Worker (fork per job)", {}).get("jobs_per_s")
    floor = drain.get("floor (redis-py, fork)", {}).get("jobs_per_s")
    lines = ["forkq benchmark — %s, %d cores, Python %s, %s, %d jobs × %d rounds (medians)" % (
        result["date"], result["cores"], result["python"], result["redis"], result["jobs"],
        result["rounds"]), ""]
    lines.append("%-30s %9s %8s %8s %9s %9s %10s %10s" % (
        "worker", "jobs/s", "×rq", "×floor", "cmds/job", "cpu ms/j", "child MB", "parent MB"))
    for name, m in drain.items():
        if "error" in m:
            lines.append("%-30s n/a (%s)" % (name, m["error"]))
            continue
        ratio_rq = "%.2f" % (m["jobs_per_s"] / rq_fork) if rq_fork else "n/a"
        ratio_floor = "%.2f" % (m["jobs_per_s"] / floor) if floor else "n/a"
        parent = "%.0f" % m["parent_rss_mb"][1] if m["parent_rss_mb"] else "-"
        child = "%.1f" % m["child_rss_mb"] if m["child_rss_mb"] else "-"
        lines.append("%-30s %9.0f %8s %8s %9.1f %9.2f %10s %10s" % (
            name, m["jobs_per_s"], ratio_rq, ratio_floor, m["cmds_per_job"],
            m["cpu_ms_per_job"], child, parent))
    lines += ["", "idle → start latency (one job pushed into an idle worker)"]
    for name, m in result["latency"].items():
        if "error" in m:
            lines.append("  %-42s n/a (%s)" % (name, m["error"]))
        else:
            idle = ("; idle %.2f cmds/s" % m["idle_cmds_per_s"]
                    if m["idle_cmds_per_s"] is not None else "")
            lines.append("  %-42s p50 %7.1f ms  p99 %7.1f ms  (%d samples%s)"
                         % (name, m["p50_ms"], m["p99_ms"], m["samples"], idle))
    lines += ["", "reserve cost, forkq fork per job"]
    for name, m in result["queues"].items():
        if "error" not in m:
            lines.append("  %-14s %7.0f jobs/s  %.1f cmds/job" % (name, m["jobs_per_s"],
                                                                  m["cmds_per_job"]))
    mem = result["memory"]
    lines += ["", "memory"]
    if "parent_rss_growth_mb" in mem:
        lines.append("  parent RSS growth over %d jobs: %.1f MB" % (mem["long_run_jobs"],
                                                               mem["parent_rss_growth_mb"]))
    if mem.get("app_child_uss_mb") is not None:
        lines.append("  100 MB preloaded app: parent RSS %.0f MB, child USS %.1f MB" % (
            mem["app_parent_rss_mb"], mem["app_child_uss_mb"]))
    lines.append("  Ruby Resque: not measured (no Ruby or Resque source on this machine)")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs: under a minute")
    parser.add_argument("--smoke", action="store_true",
                        help="seconds, not minutes: only checks that every part runs (tests)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--json", default=os.path.join(BENCH, "results.json"))
    args = parser.parse_args()
    n = args.jobs or (30 if args.smoke else 300 if args.quick else 2000)
    args.quick = args.quick or args.smoke
    rq, why = (None, "--smoke skips rq") if args.smoke else rq_python()
    if rq is None:
        print("rq rows n/a: %s" % why, file=sys.stderr)
    server = Server()
    try:
        rounds = [drain_round(server, rq, n, args.quick) for _ in range(max(3, args.rounds))]
        result = {
            "date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(),
            "python": platform.python_version(),
            "redis": "redis " + server.r.info("server")["redis_version"],
            "jobs": n, "rounds": len(rounds), "drain": medians(rounds),
            "latency": latency(server, rq, 3 if args.smoke else 20 if args.quick else 60,
                               args.quick, args.smoke),
            "queues": many_queues(server, 30 if args.smoke else 300 if args.quick else 1000),
            "memory": memory(server, 0 if args.quick else 20000),
        }
    finally:
        server.stop()
    text = report(result)
    print(text)
    with open(args.json, "w") as fh:
        json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
