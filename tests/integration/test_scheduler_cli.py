"""The operator's commands for resque-scheduler's keys: forkq enqueue --at/--in, forkq delayed
(resque-web's Delayed tab), forkq schedule (persistent schedules), and what forkq info and
forkq workers say about them."""
import json
import os
import signal

import pytest
from click.testing import CliRunner
from harness import failures, wait_until
from schedharness import LOCK

import forkq
from forkq.cli.app import cli, load_commands

load_commands()


@pytest.fixture
def run(url):
    runner = CliRunner()

    def invoke(*args, code=0):
        result = runner.invoke(cli, list(args) + ["--redis-url", url], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def redis_now(r):
    return r.time()[0]


def test_enqueue_at_and_in(r, run):
    now = redis_now(r)
    out = json.loads(run("enqueue", "Mailers::Signup", "42", "-q", "mail", "--in", "300",
                         "--json"))
    assert out["delayed"] and now + 299 <= out["timestamp"] <= now + 301
    assert r.lrange("resque:delayed:%d" % out["timestamp"], 0, -1) == \
        [b'{"class":"Mailers::Signup","args":[42],"queue":"mail"}']
    run("enqueue", "Report", '"daily"', "-q", "reports", "--at", "2999-01-01T06:00:00+01:00")
    assert r.lrange("resque:delayed:32472162000", 0, -1) == \
        [b'{"class":"Report","args":["daily"],"queue":"reports"}']
    assert "its time has come" in run("enqueue", "Now", "-q", "q", "--at", str(now - 5))
    assert r.lrange("resque:queue:q", 0, -1) == [b'{"class":"Now","args":[]}']
    assert "no zone" in run("enqueue", "X", "-q", "q", "--at", "2999-01-01T06:00:00", code=2)
    assert "not both" in run("enqueue", "X", "-q", "q", "--at", "1", "--in", "1", code=2)


def test_delayed_list_show_remove_clear(r, run):
    now = redis_now(r)
    forkq.enqueue_at(now + 100, "One", 1, queue="q", connection=r)
    forkq.enqueue_at(now + 200, "Two", 2, queue="q", connection=r)
    forkq.enqueue_at(now + 200, "Two", 3, queue="q", connection=r)
    listed = json.loads(run("delayed", "list", "--json"))
    assert listed["timestamps"] == 2
    assert [(x["timestamp"], x["jobs"], x["class"], x["args"]) for x in listed["rows"]] == \
        [(now + 100, 1, "One", [1]), (now + 200, 2, None, None)]
    text = run("delayed", "list")
    assert "One" in text and "TIMESTAMP" in text
    shown = json.loads(run("delayed", "show", str(now + 200), "--json"))
    assert shown["jobs"] == [{"class": "Two", "args": [2], "queue": "q"},
                             {"class": "Two", "args": [3], "queue": "q"}]
    run("delayed", "remove", "Two", "2", "-q", "other", code=1)  # the queue is matched too
    assert "removed 1" in run("delayed", "remove", "Two", "2", "-q", "q", "--at", str(now + 200))
    assert r.lrange("resque:delayed:%d" % (now + 200), 0, -1) == \
        [b'{"class":"Two","args":[3],"queue":"q"}']
    assert "add --yes" in run("delayed", "clear", code=2)
    assert "dropped 2" in run("delayed", "clear", "--yes")
    assert not r.keys("resque:delayed*") and not r.keys("resque:timestamps:*")


def test_delayed_enqueue_now(r, run):
    at = redis_now(r) + 1000
    forkq.enqueue_at(at, "Soon", 1, queue="q", connection=r)
    r.rpush("resque:delayed:%d" % at, b'{"class":"NoQueue","args":[]}')
    out = json.loads(run("delayed", "enqueue-now", str(at), "--json"))
    assert out == [{"timestamp": at, "queued": 1, "failed": 1}]
    assert r.lrange("resque:queue:q", 0, -1) == [b'{"class":"Soon","args":[1]}']
    assert failures(r)[0]["exception"] == "Resque::NoQueueError"
    assert not r.exists("resque:delayed_queue_schedule")
    assert not r.exists(b'resque:timestamps:{"class":"Soon","args":[1],"queue":"q"}')


def test_schedule_add_list_remove(r, run):
    run("schedule", "add", "nightly", "--cron", "0 3 * * *", "--tz", "Europe/Berlin",
        "--class", "Reports::Nightly", "-q", "reports", "--args", '{"full":true}',
        "--description", "the nightly report")
    run("schedule", "add", "tick", "--every", "30s", "--class", "Tick", "-q", "ticks",
        "--args", "[1]")
    assert r.hget("resque:persistent_schedules", "nightly") == (
        b'{"class":"Reports::Nightly","cron":"0 3 * * * Europe/Berlin","queue":"reports",'
        b'"args":{"full":true},"description":"the nightly report"}')
    assert r.hget("resque:persistent_schedules", "tick") == \
        b'{"class":"Tick","every":"30s","queue":"ticks","args":[1]}'
    assert r.smembers("resque:schedules_changed") == {b"nightly", b"tick"}
    rows = {x["name"]: x for x in json.loads(run("schedule", "list", "--json"))}
    assert rows["tick"]["when"] == "every 30s" and rows["nightly"]["next"].endswith("+0000")
    hour = int(rows["nightly"]["next"][11:13])
    assert hour in (1, 2)  # 03:00 in Berlin is 02:00 UTC (winter) or 01:00 (summer)
    assert "bad cron" in run("schedule", "add", "x", "--cron", "61 * * * *", "-q", "q", code=2)
    assert "no queue" in run("schedule", "add", "x", "--every", "1m", code=2)
    assert "exactly one" in run("schedule", "add", "x", "-q", "q", code=2)
    run("schedule", "remove", "tick")
    assert not r.hexists("resque:persistent_schedules", "tick")
    run("schedule", "remove", "tick", code=1)


def test_schedule_load_yaml_and_json(r, run, tmp_path):
    yml = tmp_path / "schedule.yml"
    yml.write_text("queue_documents:\n  cron: '0 0 * * *'\n  class: QueueDocuments\n"
                   "  queue: high\n  args: [1]\n  description: nightly\n"
                   "clear_leaderboards:\n  every: 1h\n  queue: low\n  persist: true\n")
    assert "loaded 2" in run("schedule", "load", str(yml))
    assert r.hget("resque:persistent_schedules", "clear_leaderboards") == \
        b'{"every":"1h","queue":"low","class":"clear_leaderboards"}'
    js = tmp_path / "schedule.json"
    js.write_text(json.dumps({"only": {"every": "5m", "class": "Only", "queue": "q"}}))
    assert "removed 2" in run("schedule", "load", str(js), "--replace")
    assert set(r.hkeys("resque:persistent_schedules")) == {b"only"}
    bad = tmp_path / "bad.yml"
    bad.write_text("a:\n  every: 5m\n  queue: q\nb:\n  cron: 'nope'\n  queue: q\n")
    assert "nothing loaded" in run("schedule", "load", str(bad), code=2)
    assert set(r.hkeys("resque:persistent_schedules")) == {b"only"}


def test_info_and_workers_show_delayed_and_schedulers(r, run, url, spawn_scheduler):
    at = redis_now(r) + 500
    forkq.enqueue_at(at, "Later", queue="q", connection=r)
    sched = spawn_scheduler("--scheduler-interval", "0.2", "--lock-timeout", "5")
    wait_until(lambda: r.get(LOCK) == sched.lock_value, message="master")
    wait_until(lambda: r.hlen("resque:forkq:schedulers"), message="the registry")
    data = json.loads(run("info", "--json"))
    assert data["delayed"] == 1 and data["delayed_next"] == at
    assert data["scheduler_master"] == sched.lock_value.decode()
    assert [s["role"] for s in data["schedulers"]] == ["master"]
    text = run("info")
    assert "next due" in text and "scheduler  master " + sched.lock_value.decode() in text
    text = run("workers")
    assert "scheduler master lock resque:resque:resque_scheduler_master_lock" in text
    assert "master" in text and str(sched.pid) in text
    sched.signal(signal.SIGTERM)
    assert sched.wait() == 0
    assert not r.hlen("resque:forkq:schedulers"), "a clean exit leaves the registry"
    assert os.getpid()  # the test process itself never took the lock
