"""The real `forkq work` process: registration, heartbeat, signals, pausing, titles, pruning."""
import json
import signal
import subprocess
import time

import psutil
import pytest
from harness import HOST, burst, dead_pid, enqueue_raw, failures, pop, registered_id, wait_until

from forkq import wire


def redis_up_for(r, seconds):
    # a starting worker judges heartbeat age only once Redis has been up a prune interval
    # (right after a Redis restart every heartbeat is old): worker/prune.py Sight
    wait_until(lambda: r.info("server")["uptime_in_seconds"] >= seconds, seconds + 5,
               "Redis to be up %d s" % seconds)


def test_registration_heartbeat_and_unregistration(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30]})
    worker = spawn_worker("-q", "default,low", "--interval", "0.2")
    pop(r, "test:started")
    wid = registered_id(r, worker.pid)
    assert wid == "%s:%d:default,low" % (HOST, worker.pid)
    started = r.get("resque:worker:%s:started" % wid).decode()
    assert time.strptime(started, "%Y-%m-%d %H:%M:%S +0000")
    beat = r.hget("resque:workers:heartbeat", wid).decode()
    assert beat.endswith("+00:00") and abs(wire.parse_time(beat) - time.time()) < 5
    claim = r.get("resque:worker:" + wid)
    assert claim.startswith(b'{"queue":"default","run_at":"')
    assert claim.endswith(b'"payload":{"class":"Sleep","args":[30]},"worker":"%s:%d","seq":%d}'
                          % (HOST.encode(), worker.pid, json.loads(claim)["seq"]))
    assert list(json.loads(claim)) == ["queue", "run_at", "payload", "worker", "seq"]
    assert json.loads(claim)["run_at"].endswith("Z")
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert r.sismember("resque:workers", wid) == 0
    assert not r.exists("resque:worker:" + wid, "resque:worker:%s:started" % wid,
                        "resque:stat:processed:" + wid, "resque:stat:failed:" + wid)
    assert r.hget("resque:workers:heartbeat", wid) is None


def test_stats_per_worker_while_registered(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "Record", "args": [1]})
    enqueue_raw(r, "default", {"class": "Fail", "args": ["x"]})
    worker = spawn_worker("-q", "default", "--interval", "0.2")
    wid = registered_id(r, worker.pid)
    pop(r, "test:done")
    wait_until(lambda: r.get("resque:stat:processed:" + wid) == b"2", message="2 processed")
    assert r.get("resque:stat:failed:" + wid) == b"1"
    assert r.get("resque:stat:processed") == b"2" and r.get("resque:stat:failed") == b"1"


def test_quit_lets_the_job_finish(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "Sleep", "args": [1, "quit"]})
    enqueue_raw(r, "default", {"class": "Record", "args": ["not run"]})
    worker = spawn_worker("-q", "default")
    pop(r, "test:started")
    worker.signal(signal.SIGQUIT)
    assert worker.wait(15) == 0
    assert pop(r, "test:done")["tag"] == "quit"
    assert r.llen("test:done") == 0 and r.llen("resque:queue:default") == 1
    assert failures(r) == []
    assert r.smembers("resque:workers") == set()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_term_and_int_stop_the_job_now(r, spawn_worker, sig):
    enqueue_raw(r, "default", {"class": "Sleep", "args": [60, sig.name]})
    worker = spawn_worker("-q", "default")
    pop(r, "test:started")
    began = time.monotonic()
    worker.signal(sig)
    assert worker.wait(15) == 0
    assert time.monotonic() - began < 5
    [entry] = failures(r)
    assert entry["exception"] == "Resque::DirtyExit"
    assert "worker shutting down (%s)" % sig.name in entry["error"]
    assert "killed by SIGTERM" in entry["error"]
    assert r.llen("test:done") == 0 and r.smembers("resque:workers") == set()


def test_usr1_kills_the_current_job_and_goes_on(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "Sleep", "args": [60, "usr1"]})
    worker = spawn_worker("-q", "default", "--interval", "0.2")
    pop(r, "test:started")
    worker.signal(signal.SIGUSR1)
    wait_until(lambda: r.llen("resque:failed") == 1, message="a failure")
    assert "stopped by SIGUSR1" in failures(r)[0]["error"]
    enqueue_raw(r, "default", {"class": "Record", "args": ["still working"]})
    assert pop(r, "test:done")["args"] == ["still working"]
    assert worker.alive()


def test_usr2_pauses_and_cont_resumes(r, spawn_worker):
    worker = spawn_worker("-q", "default", "--interval", "0.1")
    registered_id(r, worker.pid)
    worker.signal(signal.SIGUSR2)
    wait_until(lambda: "Paused" in " ".join(psutil.Process(worker.pid).cmdline()),
               message="Paused title")
    enqueue_raw(r, "default", {"class": "Record", "args": ["later"]})
    assert r.blpop(["test:done"], timeout=0.6) is None
    worker.signal(signal.SIGCONT)
    assert pop(r, "test:done")["args"] == ["later"]


def test_pause_all_workers_key_is_honoured(r, spawn_worker):
    r.set("resque:pause-all-workers", " TRUE\n")
    worker = spawn_worker("-q", "default", "--interval", "0.1")
    registered_id(r, worker.pid)
    enqueue_raw(r, "default", {"class": "Record", "args": ["paused"]})
    assert r.blpop(["test:done"], timeout=0.6) is None
    r.delete("resque:pause-all-workers")
    assert pop(r, "test:done")["args"] == ["paused"]


def test_burst_exits_zero_when_queues_are_empty(r, spawn_worker):
    worker = spawn_worker("-q", "default", "--burst")
    assert worker.wait(15) == 0
    assert "burst: queues empty" in worker.log
    assert r.smembers("resque:workers") == set()


def test_process_titles_match_rubys_liveness_grep(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "title"]})
    worker = spawn_worker("-q", "default")
    child_pid = pop(r, "test:started")["pid"]
    ps = subprocess.run(
        "ps -A -o pid,command | grep -E '[r]esque:work|[r]esque: Starting|[r]esque-[0-9]' "
        "| grep -v resque-web", shell=True, capture_output=True, text=True).stdout
    pids = {int(line.split()[0]) for line in ps.splitlines()}
    assert worker.pid in pids and child_pid in pids
    parent_title = " ".join(psutil.Process(worker.pid).cmdline())
    child_title = " ".join(psutil.Process(child_pid).cmdline()).strip()
    assert parent_title.startswith("resque-3.0.0-forkq-") and \
        ": Forked %d at " % child_pid in parent_title
    assert ": Processing default since " in child_title and child_title.endswith("[Sleep]")


def test_prune_records_a_dead_same_host_workers_job(r, spawn_worker):
    dead = "%s:%d:default" % (HOST, dead_pid())
    r.sadd("resque:workers", dead)
    r.set("resque:worker:%s:started" % dead, wire.started_at(time.time() - 60))
    r.set("resque:worker:" + dead, wire.claim_json(
        "default", wire.run_at(time.time()), '{"class":"Record","args":["lost?"]}'))
    other_host = "elsewhere:1:default"
    r.sadd("resque:workers", other_host)  # no heartbeat, other host: left alone
    stale = "elsewhere:2:default"
    r.sadd("resque:workers", stale)
    r.hset("resque:workers:heartbeat", stale, wire.heartbeat_at(time.time() - 400))
    redis_up_for(r, 5)
    burst(spawn_worker, "-q", "default", "--prune-interval", "5", "--heartbeat-interval", "1")
    assert r.smembers("resque:workers") == {other_host.encode()}
    entries = failures(r)
    assert [e["exception"] for e in entries] == ["Resque::DirtyExit"]
    assert entries[0]["payload"] == {"class": "Record", "args": ["lost?"]}
    assert entries[0]["worker"] == dead and "is gone" in entries[0]["error"]
    assert r.hget("resque:workers:heartbeat", stale) is None


def test_bad_queue_config_exits_with_named_code(url):
    from harness import worker_env
    proc = subprocess.run([__import__("sys").executable, "-m", "forkq", "work", "--redis-url",
                           url], env=worker_env(url), capture_output=True, text=True)
    assert proc.returncode == 78
    assert "at least one queue" in proc.stderr


def test_a_dead_worker_on_another_host_with_an_expired_heartbeat_is_pruned(r, spawn_worker):
    # contract §8.3 step 2: any host, heartbeat older than the prune interval
    dead = "elsewhere.example:77:default"
    r.sadd("resque:workers", dead)
    r.set("resque:worker:%s:started" % dead, wire.started_at(time.time() - 120))
    r.set("resque:worker:" + dead, wire.claim_json(
        "default", wire.run_at(time.time() - 60), '{"class":"Record","args":["held"]}'))
    r.hset("resque:workers:heartbeat", dead, wire.heartbeat_at(time.time() - 60))
    r.delete("resque:pruning_dead_workers_in_progress")
    redis_up_for(r, 5)
    burst(spawn_worker, "-q", "default", "--prune-interval", "5", "--heartbeat-interval", "1")
    [entry] = failures(r)
    assert entry["exception"] == "Resque::PruneDeadWorkerDirtyExit"
    assert ("Worker %s did not gracefully exit while processing Record" % dead
            in entry["error"])
    assert entry["worker"] == dead and entry["queue"] == "default"
    assert entry["payload"] == {"class": "Record", "args": ["held"]}
    assert entry["backtrace"] == []
    assert not r.sismember("resque:workers", dead)
    assert not r.exists("resque:worker:" + dead, "resque:worker:%s:started" % dead)
    assert r.hget("resque:workers:heartbeat", dead) is None
    assert r.get("resque:stat:failed") is None  # prune failures are not counted
