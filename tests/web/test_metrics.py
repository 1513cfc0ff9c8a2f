"""/metrics and `forkq metrics`, read back by prometheus_client's own parser and checked
against what Redis holds."""
import json
import subprocess
import sys
import time

from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from harness import ROOT, enqueue_raw, worker_env
from webkit import failure

from forkq.web import create_app


def samples(text):
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def load(r, now):
    enqueue_raw(r, "mail", {"class": "Record", "args": [1], "enqueued_at": now - 30})
    enqueue_raw(r, "mail", {"class": "Record", "args": [2]})
    enqueue_raw(r, "plain", {"class": "Record", "args": [3]})  # Resque's: no enqueue time
    for wid, job in (("h:1:mail", None), ("h:2:plain", "Record")):
        r.sadd("resque:workers", wid)
        r.set("resque:stat:processed:" + wid, 7)
        r.set("resque:stat:failed:" + wid, 2)
        r.hset("resque:workers:heartbeat", wid, time.strftime(
            "%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 5)))
        if job:
            r.set("resque:worker:" + wid, json.dumps(
                {"queue": "plain", "run_at": "2026-11-30T00:00:00Z",
                 "payload": {"class": job, "args": []}}))
    r.set("resque:stat:processed", 41)
    r.set("resque:stat:failed", 3)
    r.rpush("resque:failed", failure(), failure())
    for at, jobs in ((now - 100, 2), (now - 10, 1), (now + 3600, 4)):
        r.zadd("resque:delayed_queue_schedule", {str(at): at})
        r.rpush("resque:delayed:%d" % at, *[json.dumps({"class": "Record", "args": [i],
                                                        "queue": "mail"}) for i in range(jobs)])
    r.set("resque:resque:resque_scheduler_master_lock", "sched-host:99")


def test_metrics_carry_what_redis_holds(url, r):
    now = int(r.time()[0])
    load(r, now)
    response = Client(create_app(redis_url=url)).get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    got = samples(response.get_data(as_text=True))
    assert got[("forkq_up", ())] == 1
    assert got[("forkq_queue_jobs", (("queue", "mail"),))] == r.llen("resque:queue:mail") == 2
    assert got[("forkq_queue_jobs", (("queue", "plain"),))] == 1
    assert 29 <= got[("forkq_queue_oldest_job_age_seconds", (("queue", "mail"),))] <= 32
    assert ("forkq_queue_oldest_job_age_seconds", (("queue", "plain"),)) not in got
    assert got[("forkq_workers", (("state", "working"),))] == 1
    assert got[("forkq_workers", (("state", "idle"),))] == 1
    assert got[("forkq_worker_processed_total", (("worker", "h:1:mail"),))] == 7
    assert got[("forkq_worker_failed_total", (("worker", "h:2:plain"),))] == 2
    assert 4 <= got[("forkq_worker_heartbeat_age_seconds", (("worker", "h:1:mail"),))] <= 7
    assert got[("forkq_processed_total", ())] == 41
    assert got[("forkq_failed_total", ())] == 3
    assert got[("forkq_failed_jobs", ())] == r.llen("resque:failed") == 2
    assert got[("forkq_delayed_jobs", ())] == 7
    assert got[("forkq_delayed_due_jobs", ())] == 3
    assert 99 <= got[("forkq_scheduler_lag_seconds", ())] <= 102
    assert got[("forkq_scheduler_master", (("holder", "sched-host:99"),))] == 1


def test_forkq_metrics_prints_the_same_families(url, r):
    load(r, int(r.time()[0]))
    done = subprocess.run([sys.executable, "-m", "forkq", "metrics", "--redis-url", url],
                          env=worker_env(url), cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    printed = samples(done.stdout)
    served = samples(Client(create_app(redis_url=url)).get("/metrics").get_data(as_text=True))
    assert printed.keys() == served.keys()
    assert printed[("forkq_failed_jobs", ())] == 2 and printed[("forkq_up", ())] == 1


def test_a_scrape_without_redis_says_forkq_up_0(redis_server):
    from harness import free_port
    app = create_app(redis_url="redis://127.0.0.1:%d/0" % free_port())
    got = samples(Client(app).get("/metrics").get_data(as_text=True))
    assert got == {("forkq_up", ()): 0}
    page = Client(app).get("/")
    assert page.status_code == 503 and "cannot be reached" in page.get_data(as_text=True)
