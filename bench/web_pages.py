"""How long each page of `forkq web` takes with a big installation: 1,000 queues, 100 workers
(half of them working) and 100,000 failed entries. The target (issue 15) is < 100 ms a page.

    python bench/web_pages.py              # both: in-process (WSGI) and over HTTP (forkq web)
    python bench/web_pages.py --runs 50 --json OUT
    python bench/web_pages.py --smoke      # 10 queues, 5 workers, 200 failed: checks it runs

It starts its own redis-server on a free loopback port (bench/redisproc.py), fills it, then
times each page RUNS times, first called in-process through the WSGI app (the app's own time:
Redis round trips, parsing, templates) and then fetched over HTTP from a real `forkq web`
(waitress) on loopback. Medians and 95th percentiles, in milliseconds, and the CPU a fetch
cost this process and redis-server (the figure other work on the machine does not move); a
page over the target is marked. The filtered Failed pages scan the list from the newest entry until a page is full,
Redis sending only the entries that hold the name (filter_failed.lua): a filter that matches
1 entry in 1,000 fills half its page of 20 from 10,000 entries, and one that matches nothing
reads 10,000 (a page's budget, forkq.web.views.FILTER_BUDGET) and links to the next 10,000.
The Delayed and Schedules pages read 10,000 delayed timestamps (1-3 jobs each, the first hour
due and not moved) and 100 recurring schedules."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from redisproc import RedisServer  # noqa: E402

QUEUES, WORKERS, FAILED = 1000, 100, 100_000
DELAYED, SCHEDULES = 10_000, 100   # timestamps (1-3 jobs each) and recurring schedules
TARGET_MS = 100.0


def fill(r, queues=QUEUES, workers=WORKERS, failed=FAILED):
    now = int(r.time()[0])
    pipe = r.pipeline(transaction=False)
    for q in range(queues):
        name = "q%03d" % q
        pipe.sadd("resque:queues", name)
        pipe.rpush("resque:queue:" + name, *[json.dumps(
            {"class": "Jobs::Mailer%d" % (i % 7), "args": [i, {"user": i * 7}],
             "enqueued_at": now - 60}) for i in range(5 + q % 20)])
    pipe.execute()
    for w in range(workers):
        wid = "host%02d:%d:q%03d,q%03d" % (w % 10, 1000 + w, w, w + 1)
        pipe.sadd("resque:workers", wid)
        pipe.set("resque:worker:%s:started" % wid, time.strftime(
            "%Y-%m-%d %H:%M:%S +0000", time.gmtime(now - 3600)))
        pipe.hset("resque:workers:heartbeat", wid, time.strftime(
            "%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - w % 50)))
        pipe.set("resque:stat:processed:" + wid, w * 100)
        pipe.set("resque:stat:failed:" + wid, w)
        if w % 2:
            pipe.set("resque:worker:" + wid, json.dumps(
                {"queue": "q%03d" % w, "run_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime(now - w)),
                 "payload": {"class": "Jobs::Mailer1", "args": [w]}}))
    pipe.execute()
    backtrace = ["/app/jobs/mailer.py:%d:in `perform'" % i for i in range(12)]
    for start in range(0, failed, 5000):
        pipe.rpush("resque:failed", *[json.dumps(
            {"failed_at": time.strftime("%Y/%m/%d %H:%M:%S UTC", time.gmtime(now - failed + i)),
             "payload": {"class": "Jobs::Mailer%d" % (i % 7), "args": [i, {"user": i}]},
             "exception": "SMTPError", "error": "connection refused by mx%d" % (i % 5),
             "backtrace": backtrace, "worker": "host01:1001:q%03d" % (i % queues),
             "queue": "q%03d" % (i % queues)}, separators=(",", ":"))
            for i in range(start, min(start + 5000, failed))])
        pipe.execute()
    pipe.set("resque:stat:processed", 12345678)
    pipe.set("resque:stat:failed", failed)
    pipe.execute()
    return "host01:1001:q001,q002"


def fill_scheduled(r, timestamps=DELAYED, schedules=SCHEDULES):
    """resque-scheduler's keys: `timestamps` delayed timestamps a minute apart from an hour
    ago (the first hour due and not moved: a backlog), 1-3 jobs each; `schedules` recurring
    schedules (cron and every), half fired once; a master lock."""
    now = int(r.time()[0])
    first = now - 3600
    pipe = r.pipeline(transaction=False)
    for i in range(timestamps):
        ts = first + 60 * i
        items = [json.dumps({"class": "Jobs::Reminder%d" % (j % 3), "args": [i, j],
                             "queue": "q%03d" % (i % 1000)}, separators=(",", ":"))
                 for j in range(1 + i % 3)]
        pipe.rpush("resque:delayed:%d" % ts, *items)
        pipe.zadd("resque:delayed_queue_schedule", {str(ts): ts})
        for item in items:
            pipe.sadd("resque:timestamps:" + item, "delayed:%d" % ts)
        if i % 1000 == 999:
            pipe.execute()
    for i in range(schedules):
        config = {"class": "Jobs::Report%d" % i, "queue": "q%03d" % i, "args": [i],
                  "description": "report %d" % i}
        config.update({"cron": "%d */2 * * *" % (i % 60)} if i % 2 else {"every": "%dm" % (
            1 + i % 30)})
        pipe.hset("resque:persistent_schedules", "report-%03d" % i,
                  json.dumps(config, separators=(",", ":")))
        if i % 2:
            pipe.hset("resque:delayed:last_enqueued_at", "report-%03d" % i,
                      time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(now - 300)))
    pipe.set("resque:resque:resque_scheduler_master_lock", "sched-host:4242")
    pipe.execute()
    return first + 60 * (timestamps // 2)


def pages(worker, failed=FAILED, delayed_ts=None, delayed=DELAYED):
    last = -(-failed // 20)
    return [
        ("Overview", "/"), ("Overview (live part)", "/?partial=1"), ("Working", "/working"),
        ("Failed, page 1", "/failed"), ("Failed, middle page", "/failed?page=%d" % (last // 2)),
        ("Failed, last page", "/failed?page=%d" % last), ("Failed, one entry", "/failed/%d" % (failed // 2)),
        ("Failed ?class= (1 in 7)", "/failed?class=Jobs::Mailer3"),
        ("Failed ?queue= (1 in 1,000)", "/failed?queue=q500"),
        ("Failed ?queue= (no match: 10,000 read)", "/failed?queue=nosuch"),
        ("Queues", "/queues"), ("Queue, page 1", "/queue?name=q500"),
        ("Workers", "/workers"), ("Worker", "/worker?id=" + worker), ("Stats", "/stats"),
        ("Stats: Redis INFO", "/stats/redis"), ("Stats: keys", "/stats/keys"),
        ("/metrics", "/metrics"),
        ("Delayed, page 1", "/delayed"),
        ("Delayed, middle page", "/delayed?page=%d" % (-(-delayed // 20) // 2)),
        ("Delayed, one timestamp", "/delayed/%d" % delayed_ts),
        ("Schedules", "/schedules"),
    ]


def timed(fetch, runs, redis_cpu=None):
    """Wall-clock median and p95 of `runs` fetches; with redis_cpu (a function returning the
    server's CPU seconds so far), also the CPU both sides spent a fetch: this process's and
    redis-server's. On a machine shared with other work the wall clock waits for the cores;
    the CPU figure does not, so it is the one to compare across runs."""
    fetch()  # warm: templates compiled, scripts loaded, connections open
    took = []
    cpu0, server0 = time.process_time(), redis_cpu() if redis_cpu else 0.0
    for _ in range(runs):
        began = time.perf_counter()
        fetch()
        took.append((time.perf_counter() - began) * 1000)
    cpu = (time.process_time() - cpu0) / runs * 1000
    server = ((redis_cpu() - server0) / runs * 1000) if redis_cpu else None
    took.sort()
    out = {"median_ms": statistics.median(took),
           "p95_ms": took[min(len(took) - 1, int(round(0.95 * (len(took) - 1))))]}
    if redis_cpu:
        out.update(app_cpu_ms=cpu, redis_cpu_ms=server)
    return out


def in_process(url, plan, runs, redis_cpu):
    from werkzeug.test import Client

    from forkq.web import create_app
    client = Client(create_app(redis_url=url))
    out = {}
    for name, path in plan:
        def fetch(path=path):
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            response.get_data()
        out[name] = timed(fetch, runs, redis_cpu)
    return out


def over_http(url, plan, runs):
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "forkq", "web", "--bind",
                             "127.0.0.1:%d" % port, "--redis-url", url], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base + "/metrics", timeout=5).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("forkq web did not start")
                time.sleep(0.05)
        out = {}
        for name, path in plan:
            quoted = urllib.request.quote(path, safe="/?=&:,")
            out[name] = timed(lambda: urllib.request.urlopen(base + quoted, timeout=30).read(),
                              runs)
        return out
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed fetches of each page")
    parser.add_argument("--json", metavar="OUT", help="also write the figures here")
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny installation and 2 runs: checks that everything works")
    args = parser.parse_args()
    sizes = (10, 5, 200) if args.smoke else (QUEUES, WORKERS, FAILED)
    scheduled = (30, 5) if args.smoke else (DELAYED, SCHEDULES)
    runs = 2 if args.smoke else args.runs
    server = RedisServer()
    try:
        began = time.monotonic()
        worker = fill(server.r, *sizes)
        middle = fill_scheduled(server.r, *scheduled)
        plan = pages(worker, sizes[2], middle, scheduled[0])
        print("filled %d queues, %d workers, %d failed, %d delayed timestamps, %d schedules "
              "in %.1f s (redis %s, load %.2f)"
              % (sizes + scheduled + (time.monotonic() - began, server.version,
                                      os.getloadavg()[0])), file=sys.stderr)
        def redis_cpu():
            info = server.r.info("cpu")
            return info["used_cpu_user"] + info["used_cpu_sys"]

        results = {"in_process": in_process(server.url, plan, runs, redis_cpu),
                   "http": over_http(server.url, plan, runs)}
    finally:
        server.stop()
    print("%-38s %20s %20s %16s" % ("page (ms)", "in-process med/p95", "HTTP med/p95",
                                     "CPU app+redis"))
    for name, _path in plan:
        cells = []
        for where in ("in_process", "http"):
            m = results[where][name]
            flag = "*" if m["median_ms"] > TARGET_MS else " "
            cells.append("%7.1f / %7.1f%s" % (m["median_ms"], m["p95_ms"], flag))
        m = results["in_process"][name]
        cpu = "%6.1f + %5.1f%s" % (m["app_cpu_ms"], m["redis_cpu_ms"],
                                   "*" if m["app_cpu_ms"] + m["redis_cpu_ms"] > TARGET_MS
                                   else " ")
        print("%-38s %20s %20s %16s" % (name, cells[0], cells[1], cpu))
    print("* over the %d ms target; load average at the end %.2f (2 cores: above 2, the wall "
          "clock waits for a core)" % (TARGET_MS, os.getloadavg()[0]))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(results, queues=sizes[0], workers=sizes[1], failed=sizes[2],
                           delayed_timestamps=scheduled[0], schedules=scheduled[1],
                           load_average=os.getloadavg(),
                           runs=runs, target_ms=TARGET_MS), fh, indent=2)


if __name__ == "__main__":
    main()
