"""forkq enqueue, info (once and --watch), queues, workers and stats; options as env vars."""
import json
import subprocess
import sys

import click
import pytest
from adminharness import failed_entry as _failure
from adminharness import run  # noqa: F401  (the fixture)
from click.testing import CliRunner
from harness import HOST, enqueue_raw, pop, registered_id

from forkq import wire
from forkq.api import enqueue as jobs
from forkq.store import delayed_totals
from forkq.cli.app import cli


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
