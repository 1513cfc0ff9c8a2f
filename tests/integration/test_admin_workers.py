"""forkq prune, pause and resume (all or one --worker), and `work`'s JSON log and --background."""
import json
import signal
import subprocess
import time

from adminharness import run  # noqa: F401  (the fixture)
from harness import HOST, alive, dead_pid, enqueue_raw, failures, pop, registered_id, wait_until

from forkq import wire


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
