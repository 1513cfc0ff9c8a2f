"""The operator's commands end to end against the suite's redis-server (human and --json)."""
import json
import signal
import socket
import subprocess
import time

import pytest
from click.testing import CliRunner

from conftest import dead_pid, enqueue_raw, failures, pop, registered_id, wait_until

from forkq import protocol
from forkq.cli import cli, load_commands

load_commands()  # the admin commands register themselves on `cli`

HOST = socket.gethostname()


@pytest.fixture
def run(url):
    runner = CliRunner()

    def invoke(*args, code=0, input=None):
        result = runner.invoke(cli, list(args) + ["--redis-url", url], input=input,
                               catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_enqueue_writes_what_resque_enqueue_writes(r, run):
    out = run("enqueue", "Mailers::Signup", "42", '{"plan":"pro"}', "plain text", "-q", "mail")
    assert "enqueued Mailers::Signup" in out
    assert r.lrange("resque:queue:mail", 0, -1) == [
        b'{"class":"Mailers::Signup","args":[42,{"plan":"pro"},"plain text"]}']
    assert r.smembers("resque:queues") == {b"mail"}
    data = json.loads(run("enqueue", "X", "1.5e20", "-q", "mail", "--json"))
    assert data == {"enqueued": True, "class": "X", "args": [1.5e20], "queue": "mail"}
    assert r.lindex("resque:queue:mail", 1) == b'{"class":"X","args":[1.5e+20]}'


def test_enqueue_without_a_queue_is_a_usage_error(run):
    assert "queue" in run("enqueue", "Nowhere", code=2)


def test_info_queues_and_workers_like_resque_web(r, run, spawn_worker):
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "info"]})
    enqueue_raw(r, "default", {"class": "Record", "args": [1]})
    enqueue_raw(r, "low", {"class": "Record", "args": [2]})
    r.rpush("resque:failed", protocol.failure_json("2026/11/23 00:00:00 UTC",
                                                   '{"class":"X","args":[]}', "E", "e", [],
                                                   "w", "default"))
    worker = spawn_worker("-q", "default")
    pop(r, "test:started")
    wid = registered_id(r, worker.pid)
    stats = json.loads(run("info", "--json"))
    assert {k: stats[k] for k in ("pending", "failed", "queues", "workers", "working")} == \
        {"pending": 2, "failed": 1, "queues": 2, "workers": 1, "working": 1}
    assert "pending    2" in run("info")
    assert json.loads(run("queues", "--json")) == {
        "queues": [{"queue": "default", "size": 1}, {"queue": "low", "size": 1}], "failed": 1}
    assert "default  1" in run("queues")
    [row] = json.loads(run("workers", "--json"))
    assert row["id"] == wid and row["state"] == "working" and row["job"] == "Sleep"
    assert row["queue"] == "default" and row["since"].endswith("Z")
    assert row["heartbeat_age"] is not None and row["heartbeat_age"] < 10
    assert row["host"] == HOST and row["pid"] == worker.pid
    human = run("workers")
    assert wid in human and "Sleep on default since" in human and "1 of 1 workers working" in human


def test_queue_page_lists_jobs_and_remove_queue_deletes_it(r, run):
    for i in range(25):
        enqueue_raw(r, "default", {"class": "Record", "args": [i]})
    r.rpush("resque:queue:default", b"\xff not json")
    page = json.loads(run("queues", "show", "default", "--json"))
    assert page["size"] == 26 and len(page["jobs"]) == 20  # resque-web's page of 20
    assert page["jobs"][0] == {"position": 0, "payload": {"class": "Record", "args": [0]}}
    rest = json.loads(run("queues", "show", "default", "--start", "20", "--json"))
    assert [j["position"] for j in rest["jobs"]] == [20, 21, 22, 23, 24, 25]
    assert rest["jobs"][-1]["payload"] is None and "not json" in rest["jobs"][-1]["raw"]
    human = run("queues", "show", "default", "--start", "24")
    assert "24 to 25 of 26" in human and "24        Record       [24]" in human and "(not a job)" in human
    assert "Aborted" in run("queues", "remove", "default", input="n\n", code=1)
    assert r.llen("resque:queue:default") == 26  # asked first, and was told no
    assert json.loads(run("queues", "remove", "default", "--yes", "--json")) == {
        "removed": "default", "jobs": 26, "was_registered": True}
    assert not r.exists("resque:queue:default") and r.smembers("resque:queues") == set()
    assert "there are no pending jobs in default" in run("queues", "show", "default")


def test_stats_tab_resque_redis_and_keys(r, run):
    enqueue_raw(r, "default", {"class": "Record", "args": [1]})
    r.set("resque:stat:processed", 7)
    r.hset("resque:workers:heartbeat", "host:1:default", "2026-11-23T00:00:00+00:00")
    r.set("elsewhere:key", "not in the namespace")
    numbers = json.loads(run("stats", "--json"))
    assert numbers["processed"] == 7 and numbers["pending"] == 1 and numbers["queues"] == 1
    assert "processed        7" in run("stats")
    assert json.loads(run("stats", "redis", "--json"))["redis_version"] == \
        r.info()["redis_version"]
    assert json.loads(run("stats", "keys", "--json")) == [
        {"key": "queue:default", "type": "list", "size": 1},
        {"key": "queues", "type": "set", "size": 1},
        {"key": "stat:processed", "type": "string", "size": 1},
        {"key": "workers:heartbeat", "type": "hash", "size": 1}]
    assert "queue:default      list    1" in run("stats", "keys")
    assert json.loads(run("stats", "--key", "queue:default", "--json")) == {
        "key": "queue:default", "type": "list", "size": 1, "start": 0,
        "values": ['{"class":"Record","args":[1]}']}
    shown = run("stats", "--key", "workers:heartbeat")
    assert "workers:heartbeat (hash, size 1)" in shown and '"host:1:default"' in shown
    assert "no key nope under resque:" in run("stats", "--key", "nope", code=1)


def _fail_some(r, spawn_worker):
    """Three failures: 0 Fail("one") on default, 1 Nope(3) on default, 2 Fail("two") on other."""
    enqueue_raw(r, "default", '{"class":"Fail","args":["one"],"id":"keep"}')
    enqueue_raw(r, "default", {"class": "Nope", "args": [3]})
    enqueue_raw(r, "other", {"class": "Fail", "args": ["two"]})
    worker = spawn_worker("-q", "default,other", "--burst")
    assert worker.wait(20) == 0


def test_failed_list_show_and_filters(r, run, spawn_worker):
    _fail_some(r, spawn_worker)
    rows = json.loads(run("failed", "list", "--json"))
    assert [row["index"] for row in rows] == [2, 1, 0]  # newest first, real indices
    assert [row["index"] for row in json.loads(run("failed", "list", "--json", "--queue",
                                                   "other"))] == [2]
    assert [row["index"] for row in json.loads(run("failed", "list", "--json", "--class",
                                                   "Nope"))] == [1]
    human = run("failed", "list")
    assert "forkq.UnknownJob" in human and "ValueError" in human
    shown = run("failed", "show", "0")
    assert "error      one" in shown and "workerjobs.py" in shown
    assert json.loads(run("failed", "show", "2", "--json"))["error"] == "two"
    assert "no failed entry at index 9" in run("failed", "show", "9", code=1)


def test_failed_retry_is_resque_webs_retry(r, run, spawn_worker):
    _fail_some(r, spawn_worker)
    run("failed", "retry", "0")
    entry = failures(r)[0]
    assert "retried_at" in entry and entry["payload"]["id"] == "keep"  # marked in place
    assert r.lrange("resque:queue:default", 0, -1) == [b'{"class":"Fail","args":["one"]}']
    run("failed", "retry", "2", "--requeue-to", "elsewhere")
    assert r.lrange("resque:queue:elsewhere", 0, -1) == [b'{"class":"Fail","args":["two"]}']
    assert r.sismember("resque:queues", "elsewhere")
    out = json.loads(run("failed", "retry", "--all", "--class", "Nope", "--json"))
    assert out == [{"index": 1, "queue": "default"}]
    assert r.llen("resque:failed") == 3
    assert "removed 3" in run("failed", "clear-retried")
    assert r.llen("resque:failed") == 0


def test_failed_remove_uses_the_sentinel_and_clear_deletes(r, run, spawn_worker):
    _fail_some(r, spawn_worker)
    before = r.lrange("resque:failed", 0, -1)
    run("failed", "remove", "0", "2")
    assert r.lrange("resque:failed", 0, -1) == [before[1]]
    assert "cleared 1" in run("failed", "clear")
    assert not r.exists("resque:failed")


def test_prune_now_reports_and_records(r, run):
    dead = "%s:%d:default" % (HOST, dead_pid())
    r.sadd("resque:workers", dead)
    r.set("resque:worker:" + dead, protocol.claim_json(
        "default", protocol.run_at(time.time()), '{"class":"Record","args":[1]}'))
    [row] = json.loads(run("prune", "--json"))
    assert row["worker"] == dead and row["job"] == "Record"
    assert failures(r)[0]["exception"] == "Resque::DirtyExit"
    assert "no dead workers" in run("prune")


def test_pause_and_resume_all_and_one(r, run, spawn_worker):
    run("pause")
    assert r.get("resque:pause-all-workers") == b"true"
    run("resume")
    assert r.get("resque:pause-all-workers") is None
    worker = spawn_worker("-q", "default", "--interval", "0.1")
    wid = registered_id(r, worker.pid)
    assert "sent SIGUSR2" in run("pause", "--worker", wid)
    wait_until(lambda: "Paused" in open("/proc/%d/cmdline" % worker.pid).read(),
               message="the worker to pause")
    enqueue_raw(r, "default", {"class": "Record", "args": ["held"]})
    assert r.blpop(["test:done"], timeout=0.5) is None
    assert "sent SIGCONT" in run("resume", "--worker", wid)
    assert pop(r, "test:done")["args"] == ["held"]
    assert "not on this host" in run("pause", "--worker", "elsewhere:1:q", code=1)


def test_work_json_log_has_one_line_per_job_event(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "Record", "args": [1],
                               "enqueued_at": round(time.time() - 2, 3)})
    enqueue_raw(r, "default", {"class": "Fail", "args": ["logged"]})
    worker = spawn_worker("-q", "default", "--burst", "-v", "--log-format", "json")
    assert worker.wait(20) == 0
    events = [json.loads(line) for line in worker.log.splitlines() if line.startswith("{")]
    by_name = {}
    for event in events:
        by_name.setdefault(event["event"], []).append(event)
    assert [e["job"] for e in by_name["reserved"]] == ["Record", "Fail"]
    assert 2 <= by_name["reserved"][0]["queue_latency"] < 30  # the payload said when
    assert "queue_latency" not in by_name["reserved"][1]  # Resque's own payloads do not
    [done] = by_name["done"]
    [failed] = by_name["failed"]
    for event in (done, failed):
        assert event["queue"] == "default" and event["duration"] >= 0 and event["pid"] > 0
        assert event["worker"].endswith(":default") and event["peak_rss_mb"] > 0
    assert failed["message"] == "ValueError: logged"
    assert done["status"] == "exited with status 0" and 2 <= done["queue_latency"] < 30
    assert failed["status"] == "exited with status 10" and "queue_latency" not in failed
    assert "child_exit" not in by_name  # a one-job child's exit is told on its job's line


def test_background_detaches_and_writes_the_pidfile(r, url, tmp_path):
    from conftest import worker_env, TESTS
    pidfile = tmp_path / "w.pid"
    done = subprocess.run([__import__("sys").executable, "-m", "forkq", "work", "-q", "default",
                           "-r", "workerjobs", "--redis-url", url, "--background",
                           "--pidfile", str(pidfile), "--interval", "0.1"],
                          env=worker_env(url), cwd=TESTS, timeout=10)
    assert done.returncode == 0  # the foreground process returns at once
    pid = int(wait_until(lambda: pidfile.exists() and pidfile.read_text(), message="pidfile"))
    registered_id(r, pid)
    enqueue_raw(r, "default", {"class": "Record", "args": ["daemon"]})
    assert pop(r, "test:done")["args"] == ["daemon"]
    import os
    os.kill(pid, signal.SIGQUIT)
    wait_until(lambda: not pidfile.exists(), message="pidfile removed on exit")
