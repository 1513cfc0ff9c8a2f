"""The operator's commands end to end against the suite's redis-server (human and --json)."""
import json
import signal
import socket
import subprocess
import sys
import threading
import time

import click
import pytest
import redis
from click.testing import CliRunner
from harness import (
    alive,
    dead_pid,
    enqueue_raw,
    failures,
    pop,
    registered_id,
    wait_until,
)

from forkq import wire
from forkq.api import enqueue as jobs
from forkq.store import delayed_totals
from forkq.cli.app import cli, load_commands

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
    r.rpush("resque:failed", wire.failure_json("2026/11/23 00:00:00 UTC",
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
    listed = run("failed", "list").splitlines()
    assert listed[0].split()[-2:] == ["RETRIED", "AT"], listed[0]  # the column has a header
    assert listed[-1].endswith(entry["retried_at"]), listed  # entry 0 is the oldest: last
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
    r.set("resque:worker:" + dead, wire.claim_json(
        "default", wire.run_at(time.time()), '{"class":"Record","args":[1]}'))
    [row] = json.loads(run("prune", "--json"))
    assert row["worker"] == dead and row["job"] == "Record"
    assert failures(r)[0]["exception"] == "Resque::DirtyExit"
    assert "no dead workers" in run("prune")


def test_pause_and_resume_all_and_one(r, run, spawn_worker):
    assert "all workers paused (pause-all-workers)" in run("pause")
    assert r.get("resque:pause-all-workers") == b"true"
    assert "all workers resumed" in run("resume")
    assert r.get("resque:pause-all-workers") is None
    assert json.loads(run("pause", "--json")) == {"all": True, "paused": True}
    assert r.get("resque:pause-all-workers") == b"true"
    assert json.loads(run("resume", "--json")) == {"all": True, "paused": False}
    assert r.get("resque:pause-all-workers") is None
    worker = spawn_worker("-q", "default", "--interval", "0.1")
    wid = registered_id(r, worker.pid)
    assert json.loads(run("pause", "--worker", wid, "--json")) == [
        {"worker": wid, "signal": "SIGUSR2"}]
    wait_until(lambda: "Paused" in open("/proc/%d/cmdline" % worker.pid).read(),
               message="the worker to pause")
    enqueue_raw(r, "default", {"class": "Record", "args": ["held"]})
    assert r.blpop(["test:done"], timeout=0.5) is None
    assert json.loads(run("resume", "--worker", wid, "--json")) == [
        {"worker": wid, "signal": "SIGCONT"}]
    assert pop(r, "test:done")["args"] == ["held"]
    assert "sent SIGUSR2" in run("pause", "--worker", wid)
    assert "sent SIGCONT" in run("resume", "--worker", wid)


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
    from harness import SUPPORT, worker_env
    pidfile = tmp_path / "w.pid"
    done = subprocess.run([__import__("sys").executable, "-m", "forkq", "work", "-q", "default",
                           "-r", "workerjobs", "--redis-url", url, "--background",
                           "--pidfile", str(pidfile), "--interval", "0.1"],
                          env=worker_env(url), cwd=SUPPORT, timeout=10)
    assert done.returncode == 0  # the foreground process returns at once
    pid = int(wait_until(lambda: pidfile.exists() and pidfile.read_text(), message="pidfile"))
    registered_id(r, pid)
    enqueue_raw(r, "default", {"class": "Record", "args": ["daemon"]})
    assert pop(r, "test:done")["args"] == ["daemon"]
    import os
    os.kill(pid, signal.SIGQUIT)
    wait_until(lambda: not pidfile.exists(), message="pidfile removed on exit")


# --- pause/resume --worker: a signal only ever reaches the worker the id names -------------

def test_pause_worker_refuses_a_pid_that_is_not_that_worker(r, run):
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        wid = "%s:%d:default" % (HOST, bystander.pid)

        def refused(why, command="pause"):
            [row] = json.loads(run(command, "--worker", wid, "--json", code=1))
            assert row["worker"] == wid and "signal" not in row and why in row["error"], row
            assert why in run(command, "--worker", wid, code=1)
            assert bystander.poll() is None and alive(bystander.pid)  # USR2 would have killed it

        refused("not a registered worker")
        r.sadd("resque:workers", wid)
        refused("no readable worker:%s:started" % wid)
        r.set("resque:worker:%s:started" % wid, wire.started_at(time.time() - 3600))
        refused("was reused by a process started after the worker", "resume")
        r.set("resque:worker:%s:started" % wid, wire.started_at(time.time() + 5))
        refused("does not look like a Resque worker")
        gone = "%s:%d:default" % (HOST, dead_pid())
        r.sadd("resque:workers", gone)
        r.set("resque:worker:%s:started" % gone, wire.started_at(time.time()))
        assert "is not running" in run("pause", "--worker", gone, code=1)
        r.sadd("resque:workers", "elsewhere:%d:q" % bystander.pid)
        out = run("pause", "--worker", "elsewhere:%d:q" % bystander.pid, code=1)
        assert "not on this host" in out and "run this on elsewhere" in out
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


# --- failed retry: decided before any write; Ruby's *args ---------------------------------

def _failure(payload, queue="default", **extra):
    entry = {"failed_at": "2026/11/23 00:00:00 UTC", "payload": payload, "exception": "E",
             "error": "e", "backtrace": [], "worker": "host:1:default"}
    if queue is not None:
        entry["queue"] = queue
    entry.update(extra)
    return json.dumps(entry, separators=(",", ":"))


def test_retry_of_an_entry_without_a_queue_is_reported_and_the_others_still_go(r, run):
    r.rpush("resque:failed", _failure({"class": "A", "args": [0]}),
            _failure({"class": "B", "args": [1]}, queue=None),
            _failure({"class": "C", "args": [2]}))
    rows = json.loads(run("failed", "retry", "--all", "--json", code=1))
    assert rows == [{"index": 0, "queue": "default"},
                    {"index": 1, "error": "failed entry 1 has no queue: use --requeue-to"},
                    {"index": 2, "queue": "default"}]
    assert r.lrange("resque:queue:default", 0, -1) == [b'{"class":"A","args":[0]}',
                                                      b'{"class":"C","args":[2]}']
    assert ["retried_at" in e for e in failures(r)] == [True, False, True]  # not marked
    out = run("failed", "retry", "1", code=1)
    assert "not retried 1: failed entry 1 has no queue: use --requeue-to" in out
    assert "retried_at" not in failures(r)[1] and r.llen("resque:queue:default") == 2
    assert "retried 1 onto rescue" in run("failed", "retry", "1", "--requeue-to", "rescue")
    assert r.lrange("resque:queue:rescue", 0, -1) == [b'{"class":"B","args":[1]}']
    assert "retried_at" in failures(r)[1]


def test_retry_recreates_args_as_rubys_splat(r, run):
    cases = [({"a": 1, "b": [2]}, [["a", 1], ["b", [2]]]), ("s", ["s"]), (None, []),
             (0, [0]), (False, [False]), ({}, []), ([1, {"k": "v"}], [1, {"k": "v"}])]
    for args, _ in cases:
        r.rpush("resque:failed", _failure({"class": "X", "args": args}))
    r.rpush("resque:failed", _failure({"class": "X"}))  # no args at all: nil
    run("failed", "retry", "--all")
    pushed = [json.loads(raw) for raw in r.lrange("resque:queue:default", 0, -1)]
    assert [job["args"] for job in pushed] == [want for _, want in cases] + [[]]
    assert all(list(job) == ["class", "args"] for job in pushed)


def test_retry_finishes_while_jobs_keep_failing(r, url, run):
    """Workers on a busy cluster keep appending to `failed` while an operator retries: the
    retry must not wait for a quiet moment, and must mark and push exactly the entries it
    chose (the appended ones move none of them)."""
    r.rpush("resque:failed", *[_failure({"class": "AB"[i % 2], "args": [i]}) for i in range(6)])
    stop, pushed = threading.Event(), []

    def keep_failing():
        other = redis.Redis.from_url(url)
        noise = _failure({"class": "Noise", "args": []})
        while not stop.is_set() and len(pushed) < 100000:
            other.rpush("resque:failed", noise)
            pushed.append(1)
        other.close()

    pusher = threading.Thread(target=keep_failing, daemon=True)
    pusher.start()
    try:
        wait_until(lambda: len(pushed) > 20, message="the pusher to start")
        started = time.monotonic()
        rows = json.loads(run("failed", "retry", "--all", "--class", "A", "--json"))
        elapsed, still_pushing = time.monotonic() - started, pusher.is_alive()
        indices = json.loads(run("failed", "retry", "1", "5", "--json"))
    finally:
        stop.set()
        pusher.join(60)
    assert still_pushing and elapsed < 30, (elapsed, len(pushed))
    assert rows == [{"index": i, "queue": "default"} for i in (0, 2, 4)]
    assert indices == [{"index": i, "queue": "default"} for i in (1, 5)]
    assert r.lrange("resque:queue:default", 0, -1) == [
        wire.job_payload("AB"[i % 2], [i]).encode() for i in (0, 2, 4, 1, 5)]
    entries = failures(r)
    assert ["retried_at" in e for e in entries[:6]] == [True, True, True, False, True, True]
    assert len(entries) == 6 + len(pushed)
    assert not any("retried_at" in e for e in entries[6:])


def test_a_job_failing_during_every_retry_does_not_make_it_start_over(r, url, run,
                                                                       monkeypatch):
    """The worst case of a busy cluster, made certain: some worker appends a failure while
    each retry is between reading its entry and writing. Appends move no entry, so each
    retry decides once and goes through (a WATCH on `failed` would start over for ever)."""
    from forkq.store.failures import Failures
    r.rpush("resque:failed", *[_failure({"class": "AB"[i % 2], "args": [i]}) for i in range(4)])
    other, appended = redis.Redis.from_url(url), []
    decide = Failures.target_queue

    def a_job_fails_meanwhile(entry, requeue_to=None):
        if len(appended) < 50:  # bounded, so that a retry that starts over still ends
            other.rpush("resque:failed", _failure({"class": "Noise", "args": []}))
            appended.append(entry.index)
        return decide(entry, requeue_to)

    monkeypatch.setattr(Failures, "target_queue", staticmethod(a_job_fails_meanwhile))
    try:
        rows = json.loads(run("failed", "retry", "--all", "--class", "A", "--json"))
        assert "retried 3 onto default" in run("failed", "retry", "3")
    finally:
        other.close()
    assert appended == [0, 2, 3]  # one decision per entry
    assert rows == [{"index": 0, "queue": "default"}, {"index": 2, "queue": "default"}]
    assert r.lrange("resque:queue:default", 0, -1) == [
        wire.job_payload("AB"[i % 2], [i]).encode() for i in (0, 2, 3)]
    assert ["retried_at" in e for e in failures(r)] == [True, False, True, True] + [False] * 3


@pytest.fixture
def meanwhile(monkeypatch):
    """Steps another operator takes after a retry read its entry and before it writes."""
    from forkq.store.failures import Failures
    steps = []
    decide = Failures.target_queue

    def racing(entry, requeue_to=None):
        if steps:
            steps.pop(0)()
        return decide(entry, requeue_to)

    monkeypatch.setattr(Failures, "target_queue", staticmethod(racing))
    return steps


def test_an_entry_changed_between_read_and_write_is_not_retried_by_mistake(r, url, meanwhile):
    from forkq.store.admin import Admin
    from forkq.store.failures import EntryChanged
    r.rpush("resque:failed", *[_failure({"class": c, "args": [i]}) for i, c in enumerate("ABCD")])
    failed = Admin(url, "resque").failures
    other = Admin(url, "resque").failures  # another operator, in another shell

    def state():
        return [(e["payload"]["class"], "retried_at" in e) for e in failures(r)]

    def pushed():
        return [json.loads(raw)["class"] for raw in r.lrange("resque:queue:default", 0, -1)]

    # retry 1 read B; A is removed meanwhile, so B is at 0 now and C at 1: B is retried
    meanwhile.append(lambda: other.remove(0))
    assert failed.retry(1) == "default"
    assert state() == [("B", True), ("C", False), ("D", False)] and pushed() == ["B"]
    # retry 1 read C; the other operator retries C meanwhile: C changed, so not twice
    meanwhile.append(lambda: other.retry(1))
    with pytest.raises(EntryChanged, match="entry 1 changed since it was read"):
        failed.retry(1)
    assert state() == [("B", True), ("C", True), ("D", False)] and pushed() == ["B", "C"]
    # retry --all --class D chose D at 2 from a listing; B is removed before the retry
    [chosen] = failed.all(class_name="D")
    other.remove(0)
    assert failed.retry(chosen.index, expected=chosen.raw) == "default"
    assert state() == [("C", True), ("D", True)] and pushed() == ["B", "C", "D"]
    # and an entry chosen from a listing, then removed, is reported: the one now at its index
    # (which the filter did not choose) stays as it was
    r.rpush("resque:failed", _failure({"class": "E", "args": [4]}),
            _failure({"class": "F", "args": [5]}))
    [chosen] = failed.all(class_name="E")
    other.remove(chosen.index)
    with pytest.raises(EntryChanged):
        failed.retry(chosen.index, expected=chosen.raw)
    assert state() == [("C", True), ("D", True), ("F", False)] and pushed() == ["B", "C", "D"]


def test_retry_all_retries_the_entries_its_filter_chose_when_a_remove_moves_them(
        r, url, run, meanwhile):
    from forkq.store.admin import Admin
    r.rpush("resque:failed", *[_failure({"class": "AB"[i % 2], "args": [i]}) for i in range(5)])
    other = Admin(url, "resque").failures
    # after the listing chose A0, A2, A4: another operator removes B1 (A2 and A4 move up one)
    # and then A4 itself
    meanwhile.extend([lambda: other.remove(1), lambda: other.remove(3)])
    rows = json.loads(run("failed", "retry", "--all", "--class", "A", "--json", code=1))
    assert rows[:2] == [{"index": 0, "queue": "default"}, {"index": 2, "queue": "default"}]
    assert rows[2]["index"] == 4 and "changed since it was read" in rows[2]["error"]
    assert [json.loads(raw)["args"] for raw in r.lrange("resque:queue:default", 0, -1)] == [
        [0], [2]]
    assert [(e["payload"]["args"], "retried_at" in e) for e in failures(r)] == [
        ([0], True), ([2], True), ([3], False)]


def test_failed_list_keeps_entries_that_are_not_json_objects(r, run):
    r.rpush("resque:failed", b"not json \xff", b"[1,2]", _failure({"class": "X", "args": []}))
    rows = json.loads(run("failed", "list", "--json"))
    assert rows[1:] == [{"index": 1, "raw": "[1,2]"}, {"index": 0, "raw": "not json \\xff"}]
    assert rows[0]["index"] == 2 and rows[0]["payload"] == {"class": "X", "args": []}
    assert "(not a JSON object) not json" in run("failed", "list")
    assert json.loads(run("failed", "show", "0", "--json")) == {"index": 0,
                                                                "raw": "not json \\xff"}
    assert "not a JSON object: [1,2]" in run("failed", "show", "1")
    out = run("failed", "retry", "0", code=1)
    assert "has no job class to retry" in out and r.lindex("resque:failed", 0) == \
        b"not json \xff"


def test_indices_with_filters_are_refused_not_ignored(r, run):
    r.rpush("resque:failed", _failure({"class": "A", "args": []}),
            _failure({"class": "B", "args": []}, queue="other"))
    before = r.lrange("resque:failed", 0, -1)
    for command in ("retry", "remove"):
        out = run("failed", command, "0", "--queue", "other", code=2)
        assert "--queue and --class choose entries for --all" in out
        assert "--queue and --class" in run("failed", command, "1", "--class", "A", code=2)
        assert "not both" in run("failed", command, "0", "--all", code=2)
        assert "give INDEX... or --all" in run("failed", command, code=2)
    assert r.lrange("resque:failed", 0, -1) == before and not r.exists("resque:queue:default")
    assert json.loads(run("failed", "remove", "--all", "--queue", "other", "--json")) == {
        "removed": [1]}
    assert r.lrange("resque:failed", 0, -1) == before[:1]
    assert "nothing to remove" in run("failed", "remove", "--all", "--class", "Nope")


def test_failed_remove_clear_and_clear_retried_json(r, run):
    r.rpush("resque:failed", *[_failure({"class": "X", "args": [i]}) for i in range(5)])
    before = r.lrange("resque:failed", 0, -1)
    assert json.loads(run("failed", "remove", "3", "1", "--json")) == {"removed": [1, 3]}
    assert r.lrange("resque:failed", 0, -1) == [before[0], before[2], before[4]]
    assert "no failed entry at index 7" in run("failed", "remove", "7", "--json", code=1)
    assert json.loads(run("failed", "retry", "0", "2", "--json")) == [
        {"index": 0, "queue": "default"}, {"index": 2, "queue": "default"}]
    assert json.loads(run("failed", "clear-retried", "--json")) == {"removed": 2}
    assert r.lrange("resque:failed", 0, -1) == [before[2]]
    assert json.loads(run("failed", "clear", "--json")) == {"cleared": 1}
    assert not r.exists("resque:failed")
    assert json.loads(run("failed", "clear", "--json")) == {"cleared": 0}


# --- options are environment variables --------------------------------------------------

def _commands(command, path=("forkq",)):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, path + (name,))


def test_every_option_of_every_command_is_also_an_env_var():
    from forkq.config import OPTIONS
    config_envs = {opt.name: opt.env for opt in OPTIONS}
    checked = 0
    for path, command in _commands(cli):
        for param in command.params:
            if not isinstance(param, click.Option) or param.name in ("help", "version"):
                continue  # --help, and the group's --version, only print and exit
            # `work` and the connection options come from forkq.config's table: Config.load
            # reads their variables, and the help names them
            envs = param.envvar or config_envs.get(param.name)
            assert envs, "%s %s has no environment variable" % (" ".join(path), param.opts)
            first = envs if isinstance(envs, str) else envs[0]
            assert first.rstrip("?") in (param.help or ""), (path, param.opts)
            checked += 1
    assert checked > 60


def test_env_vars_set_options(r, run, url):
    runner = CliRunner()
    done = runner.invoke(cli, ["enqueue", "X", "1", "-q", "mail"],
                         env={"FORKQ_NAMESPACE": "custom", "FORKQ_REDIS_URL": url,
                              "FORKQ_JSON": "1"})
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["enqueued"] is True
    assert r.lrange("custom:queue:mail", 0, -1) == [b'{"class":"X","args":[1]}']
    assert not r.exists("resque:queue:mail")
    r.rpush("resque:failed", _failure({"class": "A", "args": []}),
            _failure({"class": "B", "args": []}))
    done = runner.invoke(cli, ["failed", "retry", "--redis-url", url],
                         env={"FORKQ_FAILED_ALL": "1"})
    assert done.exit_code == 0, done.output
    assert "retried 0 onto default" in done.output and "retried 1 onto default" in done.output
    assert r.llen("resque:queue:default") == 2


# --- info: resque-web's Overview, once and --watch ----------------------------------------

def _fake_worker(r, wid, run_at=None, job="Sleep", queue="default"):
    r.sadd("resque:workers", wid)
    r.set("resque:worker:%s:started" % wid, "2026-11-23 00:00:00 +0000")
    if run_at:
        r.set("resque:worker:" + wid, wire.claim_json(
            queue, run_at, '{"class":"%s","args":[]}' % job))


def test_info_shows_queues_workers_working_and_idle(r, run):
    enqueue_raw(r, "default", {"class": "A", "args": []})
    enqueue_raw(r, "default", {"class": "A", "args": []})
    enqueue_raw(r, "low", {"class": "A", "args": []})
    r.rpush("resque:failed", _failure({"class": "A", "args": []}))
    _fake_worker(r, "h:1:default", "2026-11-23T00:00:09Z", "Late")
    _fake_worker(r, "h:2:low")
    _fake_worker(r, "h:3:default,low", "2026-11-23T00:00:01Z", "Early", "low")
    data = json.loads(run("info", "--json"))
    assert data["queue_sizes"] == [{"queue": "default", "size": 2}, {"queue": "low", "size": 1}]
    assert (data["failed"], data["workers"], data["working"], data["idle"]) == (1, 3, 2, 1)
    assert data["working_jobs"] == [
        {"worker": "h:3:default,low", "queue": "low", "class": "Early",
         "since": "2026-11-23T00:00:01Z"},
        {"worker": "h:1:default", "queue": "default", "class": "Late",
         "since": "2026-11-23T00:00:09Z"}]
    assert "delayed" not in data and "scheduled" not in data  # no resque-scheduler keys
    human = run("info")
    assert "default  2" in human and "low      1" in human and "failed   1" in human
    assert "idle       1" in human and "2 of 3 workers working" in human
    assert human.index("h:3:default,low  low      Early") < human.index("h:1:default")
    assert "delayed" not in human and "scheduled" not in human


def test_info_counts_delayed_jobs_and_schedules_when_present(r, run):
    r.zadd("resque:delayed_queue_schedule", {"1795395000": 1795395000,
                                             "1795395060": 1795395060})
    r.rpush("resque:delayed:1795395000", '{"class":"A","args":[],"queue":"q"}',
            '{"class":"B","args":[],"queue":"q"}')
    r.rpush("resque:delayed:1795395060", '{"class":"C","args":[],"queue":"q"}')
    data = json.loads(run("info", "--json"))
    assert (data["delayed"], data["delayed_timestamps"]) == (3, 2)
    assert "scheduled" not in data
    r.hset("resque:persistent_schedules", mapping={"nightly": "{}", "hourly": "{}"})
    data = json.loads(run("info", "--json"))
    assert data["scheduled"] == 2
    human = run("info")
    assert "delayed    3 (at 2 timestamps)" in human and "scheduled  2" in human
    assert json.loads(run("stats", "--json"))["delayed"] == 3


@pytest.mark.parametrize("stamps", [0, 1, 3, 7])
def test_delayed_jobs_are_counted_in_batches_alike_by_info_and_the_producer(r, run,
                                                                            monkeypatch,
                                                                            stamps):
    monkeypatch.setattr(delayed_totals, "DELAYED_BATCH", 3)
    for i in range(stamps):
        at = 1795395000 + 60 * i
        r.zadd("resque:delayed_queue_schedule", {str(at): at})
        r.rpush("resque:delayed:%d" % at, *['{"class":"A","args":[%d]}' % n for n in range(i + 1)])
    want = sum(range(1, stamps + 1))
    replies, register = [], r.register_script

    def counted(source):  # each batch is one script call: how many timestamps it read
        script = register(source)
        return lambda **kw: replies.append(script(**kw)) or replies[-1]
    monkeypatch.setattr(r, "register_script", counted)
    assert jobs.Producer(r, "resque").delayed_count() == want
    assert len(replies) == stamps // 3 + 1 and max(reply[0] for reply in replies) <= 3
    data = json.loads(run("info", "--json"))
    if stamps:
        assert (data["delayed"], data["delayed_timestamps"]) == (want, stamps)
    else:
        assert "delayed" not in data


def test_info_watch_refreshes(r, run):
    out = run("info", "--watch", "0.05", "--count", "2")
    assert out.count("pending") == 2 and out.count("(every 0.05s)") == 2
    assert "--count goes with --watch" in run("info", "--count", "2", code=2)
    lines = run("info", "--watch", "0.05", "--count", "3", "--json").splitlines()
    assert len(lines) == 3 and all(json.loads(line)["pending"] == 0 for line in lines)


def test_info_watch_json_is_a_line_per_refresh_a_script_can_follow(r, url):
    from harness import SUPPORT, worker_env
    watch = subprocess.Popen([sys.executable, "-m", "forkq", "info", "--watch", "0.1", "--json",
                              "--count", "600", "--redis-url", url], env=worker_env(url),
                             cwd=SUPPORT, stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(watch.stdout.readline())
        assert first["pending"] == 0 and first["queue_sizes"] == []
        enqueue_raw(r, "default", {"class": "A", "args": []})
        for _ in range(300):  # one refresh each 0.1 s: it shows up in a few lines
            line = watch.stdout.readline()
            assert line.endswith("}\n") and "\n" not in line[:-1]
            data = json.loads(line)
            if data["pending"]:
                break
        assert data["queue_sizes"] == [{"queue": "default", "size": 1}]
    finally:
        watch.terminate()
        watch.wait(10)


def test_workers_working_is_resque_webs_working_tab(r, run):
    _fake_worker(r, "h:1:default", "2026-11-23T00:00:09Z", "Late")
    _fake_worker(r, "h:2:low")
    _fake_worker(r, "h:3:low", "2026-11-23T00:00:01Z", "Early", "low")
    rows = json.loads(run("workers", "--working", "--json"))
    assert [(w["id"], w["job"]) for w in rows] == [("h:3:low", "Early"), ("h:1:default", "Late")]
    assert len(json.loads(run("workers", "--json"))) == 3
    human = run("workers", "--working")
    assert "h:2:low" not in human and "2 of 3 workers working" in human
    assert human.index("h:3:low") < human.index("h:1:default")


def test_an_unreachable_redis_is_one_line_and_exit_69_not_a_traceback():
    from harness import free_port
    proc = subprocess.run([sys.executable, "-m", "forkq", "info", "--redis-url",
                           "redis://127.0.0.1:%d/0" % free_port()],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 69, proc.stderr
    assert "cannot reach Redis" in proc.stderr and "Traceback" not in proc.stderr
