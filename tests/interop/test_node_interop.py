"""Interop with a real Resque implementation nobody here wrote: node-resque (npm).

node-resque enqueues jobs forkq performs, performs jobs forkq enqueues, reads forkq's workers
and failures, and cleans up after a dead forkq worker; forkq reads and retries node-resque's
failures, and its prune leaves live node-resque workers alone and cleans up after dead ones.

tests/run.sh installs node-resque (tests/node/package-lock.json) outside tests/, into
${XDG_CACHE_HOME:-~/.cache}/forkq-node (or $FORKQ_NODE_DIR), and these tests run peer.js with
NODE_PATH pointing there. Skipped only where `node` is absent and CI is unset: in CI a missing
node or node-resque fails the run.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from harness import (
    ROOT,
    TESTS,
    alive,
    dead_pid,
    enqueue_raw,
    failures,
    pop,
    registered_id,
    wait_until,
    worker_env,
)

import forkq
from forkq import wire
from forkq.store.failures import Failures

NODE = shutil.which("node")
PEER = os.path.join(TESTS, "node", "peer.js")
HOST = socket.gethostname()
IN_CI = bool(os.environ.get("CI"))

pytestmark = pytest.mark.skipif(NODE is None and not IN_CI,
                                reason="node is not installed: the node-resque interop tests "
                                       "need it (tests/run.sh installs node and node-resque)")


def node_modules_dirs():
    """Where run.sh put node-resque, then any NODE_PATH entries the caller set."""
    cache = os.environ.get("FORKQ_NODE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "forkq-node")
    dirs = [os.path.join(cache, "node_modules")]
    dirs += [d for d in os.environ.get("NODE_PATH", "").split(os.pathsep) if d]
    return dirs


def node_env():
    return dict(os.environ, NODE_PATH=os.pathsep.join(node_modules_dirs()))


@pytest.fixture(scope="module", autouse=True)
def node_resque_installed():
    if NODE is None:
        pytest.fail("CI is set but node is not installed: tests/run.sh installs it with "
                    "apt-get (nodejs npm)")
    if not any(os.path.isdir(os.path.join(d, "node-resque")) for d in node_modules_dirs()):
        pytest.fail("node is here but node-resque is not installed in %s: run `sh tests/run.sh` "
                    "(it runs npm ci there against tests/node/package-lock.json)"
                    % " or ".join(node_modules_dirs()))


def forkq_cli(url, *args):
    """`python -m forkq ARGS --redis-url URL --json` → its parsed JSON output."""
    done = subprocess.run([sys.executable, "-m", "forkq"] + list(args)
                          + ["--redis-url", url, "--json"],
                          env=worker_env(url), cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, (done.stdout, done.stderr)
    return json.loads(done.stdout)


def peer(redis_server, cmd, timeout=30):
    cmd = dict(cmd, port=redis_server.port)
    done = subprocess.run([NODE, PEER, json.dumps(cmd)], capture_output=True, text=True,
                          timeout=timeout, env=node_env())
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert done.returncode == 0, (done.stdout, done.stderr)
    return lines[-1]


def call(redis_server, method, *args):
    return peer(redis_server, {"cmd": "call", "method": method, "args": list(args)})["result"]


def hold_node_worker(redis_server, queues, jobs):
    proc = subprocess.Popen([NODE, PEER, json.dumps({
        "cmd": "hold", "port": redis_server.port, "queues": queues, "jobs": jobs})],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=node_env())
    ready = json.loads(proc.stdout.readline())
    assert ready.get("ready"), ready
    return proc, ready


def test_node_resque_enqueues_and_forkq_performs_in_priority_order(r, redis_server,
                                                                   spawn_worker):
    big = 2 ** 53 - 1  # the largest integer a JavaScript producer can write exactly
    jobs = [{"queue": "low", "class": "Record", "args": ["low", 1]},
            {"queue": "high", "class": "Record",
             "args": ["héllo ✓ 日本", {"n": [1, [2, {"x": None}]]}]},
            {"queue": "high", "class": "Mailers::Signup", "args": [big, {"plan": "pro"}]},
            {"queue": "low", "class": "Record", "args": ["low", 2]}]
    peer(redis_server, {"cmd": "enqueue", "jobs": jobs})
    # node-resque writes {"class","queue","args"}: an extra key forkq must carry, not choke on
    assert json.loads(r.lindex("resque:queue:high", 0)) == {
        "class": "Record", "queue": "high", "args": jobs[1]["args"]}
    worker = spawn_worker("-q", "high,low", "--burst")
    assert worker.wait(20) == 0, worker.log
    done = [pop(r, "test:done") for _ in range(4)]
    assert [d["args"] for d in done] == [jobs[1]["args"], [big, {"plan": "pro"}],
                                         ["low", 1], ["low", 2]]
    assert failures(r) == []


def test_forkq_enqueues_and_node_resque_performs(r, redis_server):
    producer = forkq.Producer(r)
    producer.enqueue("NodeRecord", "from python", {"k": [1, 2.5, None]}, queue="nodeq")
    producer.enqueue("NodeRecord", "ünïcode", queue="nodeq")
    done = peer(redis_server, {"cmd": "work", "queues": ["nodeq"], "count": 2,
                               "jobs": {"NodeRecord": {"behaviour": "record",
                                                       "list": "test:node"}}})
    assert done["ended"] == 2
    got = [json.loads(x) for x in r.lrange("test:node", 0, -1)]
    assert [g["args"] for g in got] == [["from python", {"k": [1, 2.5, None]}], ["ünïcode"]]


def test_failures_side_by_side_parse_with_each_others_readers(r, redis_server, url,
                                                            spawn_worker):
    forkq.Producer(r).enqueue("NodeFail", "node breaks", {"n": 1}, queue="nodeq")
    peer(redis_server, {"cmd": "work", "queues": ["nodeq"], "count": 1,
                        "jobs": {"NodeFail": {"behaviour": "fail", "message": "node says no"}}})
    enqueue_raw(r, "default", {"class": "Fail", "args": ["python says no"]})
    worker = spawn_worker("-q", "default", "--burst")
    assert worker.wait(20) == 0
    wid = "%s:%d:default" % (HOST, worker.pid)
    # node-resque's reader takes forkq's entry
    seen = call(redis_server, "failed", 0, -1)
    assert [f["error"] for f in seen] == ["node says no", "python says no"]
    assert seen[1]["worker"] == wid and seen[1]["payload"] == {"class": "Fail",
                                                               "args": ["python says no"]}
    assert call(redis_server, "failedCount") == 2
    # forkq's own reader (forkq.store.failures, what `forkq failed` and retry use) takes node-resque's
    node_entry, forkq_entry = Failures(r, wire.Keys("resque")).all()
    assert node_entry.is_object and node_entry.class_name == "NodeFail"
    assert node_entry.queue == "nodeq"
    assert node_entry.payload["args"] == ["node breaks", {"n": 1}]
    assert node_entry.data["error"] == "node says no"
    assert forkq_entry.class_name == "Fail" and forkq_entry.data["exception"] == "ValueError"
    for entry in (node_entry, forkq_entry):
        assert {"failed_at", "payload", "exception", "error", "backtrace", "worker",
                "queue"} <= set(entry.data)
        assert isinstance(entry.data["backtrace"], list)
        assert isinstance(entry.data["worker"], str)
    # ... and so does the command line
    shown = forkq_cli(url, "failed", "show", "0")
    assert shown["index"] == 0 and shown["worker"] == node_entry.data["worker"]
    assert shown["payload"]["class"] == "NodeFail" and shown["error"] == "node says no"
    listed = forkq_cli(url, "failed", "list")
    assert [(e["index"], e["payload"]["class"]) for e in listed] == [(1, "Fail"),
                                                                      (0, "NodeFail")]
    # forkq retries node-resque's entry as resque-web would; node-resque performs it again
    assert forkq_cli(url, "failed", "retry", "0") == [{"index": 0, "queue": "nodeq"}]
    assert r.lrange("resque:queue:nodeq", 0, -1) == [
        b'{"class":"NodeFail","args":["node breaks",{"n":1}]}']
    assert "retried_at" in failures(r)[0] and len(failures(r)) == 2
    done = peer(redis_server, {"cmd": "work", "queues": ["nodeq"], "count": 1,
                               "jobs": {"NodeFail": {"behaviour": "record",
                                                     "list": "test:node"}}})
    assert done["ended"] == 1
    assert json.loads(r.lpop("test:node"))["args"] == ["node breaks", {"n": 1}]
    assert call(redis_server, "failedCount") == 2  # the retried entry stays, marked


def test_node_resque_sees_forkq_working_and_then_forgets_it(r, redis_server, spawn_worker):
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "watched"]})
    worker = spawn_worker("-q", "default,low")
    pop(r, "test:started")
    wid = registered_id(r, worker.pid)
    name = "%s:%d" % (HOST, worker.pid)
    assert call(redis_server, "workers") == {name: "default,low"}
    working = json.loads(call(redis_server, "workingOn", name, "default,low"))
    assert working["queue"] == "default" and working["payload"]["class"] == "Sleep"
    everyone = call(redis_server, "allWorkingOn")
    assert everyone[name]["payload"] == {"class": "Sleep", "args": [30, "watched"]}
    assert everyone[name]["run_at"] == working["run_at"]
    # node-resque parses run_at with Date.parse for cleanOldWorkers: forkq's must be valid
    assert call(redis_server, "cleanOldWorkers", 3600 * 1000) == {}
    stats = call(redis_server, "stats")
    assert "processed" not in stats or int(stats["processed"]) == 0
    assert call(redis_server, "failed", 0, -1) == []
    worker.signal(signal.SIGTERM)  # kills the job's child: a DirtyExit in failed
    assert worker.wait(15) == 0
    assert call(redis_server, "workers") == {}
    assert call(redis_server, "allWorkingOn") == {}
    assert call(redis_server, "workingOn", name, "default,low") is None
    assert call(redis_server, "stats")["processed"] == "1"
    [killed] = call(redis_server, "failed", 0, -1)
    assert killed["worker"] == wid and killed["queue"] == "default"
    assert killed["payload"] == {"class": "Sleep", "args": [30, "watched"]}
    assert killed["exception"] == "Resque::DirtyExit"
    assert wid not in {w.decode() for w in r.smembers("resque:workers")}


def test_force_clean_worker_on_a_dead_forkq_moves_its_job_to_failed(r, redis_server,
                                                                    spawn_worker):
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "abandoned"]})
    worker = spawn_worker("-q", "default")
    child = pop(r, "test:started")["pid"]
    registered_id(r, worker.pid)
    os.killpg(worker.pid, signal.SIGKILL)  # the worker dies without unregistering
    worker.wait(10)
    wait_until(lambda: not alive(child), message="the orphaned child to die")
    name = "%s:%d" % (HOST, worker.pid)
    cleaned = call(redis_server, "forceCleanWorker", name)
    assert cleaned["payload"] == {"class": "Sleep", "args": [30, "abandoned"]}
    [entry] = failures(r)  # forkq's reader takes node-resque's shape
    assert entry["queue"] == "default" and entry["payload"]["class"] == "Sleep"
    assert entry["worker"] == name and isinstance(entry["backtrace"], list)
    assert r.smembers("resque:workers") == set()


def test_forkq_prune_after_force_clean_worker_records_the_job_once(r, redis_server, url,
                                                                   spawn_worker):
    """node-resque's forceCleanWorker leaves forkq's claim and heartbeat field behind (it
    deletes worker:<host:pid>, not worker:<id>); the stale heartbeat then makes forkq's prune
    look at that worker again, and its job must not land in failed a second time."""
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "cleaned"]})
    worker = spawn_worker("-q", "default")
    child = pop(r, "test:started")["pid"]
    wid = registered_id(r, worker.pid)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    wait_until(lambda: not alive(child), message="the orphaned child to die")
    call(redis_server, "forceCleanWorker", "%s:%d" % (HOST, worker.pid))
    assert len(failures(r)) == 1
    # the heartbeat goes stale (older than the prune interval, by Redis TIME) and the lock
    # a worker start-up prune takes is free
    r.hset("resque:workers:heartbeat", wid, wire.heartbeat_at(r.time()[0] - 3600))
    r.delete("resque:pruning_dead_workers_in_progress")
    forkq_cli(url, "prune")
    same_job = [f for f in failures(r)
                if f["payload"] == {"class": "Sleep", "args": [30, "cleaned"]}]
    assert len(same_job) == 1, failures(r)
    assert len(failures(r)) == 1
    assert r.hget("resque:workers:heartbeat", wid) is None  # the prune cleaned up after it
    assert r.get("resque:worker:" + wid) is None
    # and a worker's start-up prune finds nothing more to record either
    assert spawn_worker("-q", "other", "--burst").wait(20) == 0
    assert len(failures(r)) == 1


def test_forkq_prune_spares_a_live_node_worker_mid_job(r, redis_server, url):
    live, ready = hold_node_worker(redis_server, ["nodeq"], {
        "NodeSleep": {"behaviour": "record", "list": "test:node", "sleep_ms": 60000,
                      "started": "test:node_started"}})
    try:
        member = ready["name"] + ":nodeq"
        claim_key = "resque:worker:" + member
        forkq.Producer(r).enqueue("NodeSleep", 7, queue="nodeq")
        assert pop(r, "test:node_started", timeout=20)["args"] == [7]
        claim = wait_until(lambda: r.get(claim_key), message="node-resque's claim")
        assert json.loads(claim)["payload"]["class"] == "NodeSleep"
        # node-resque writes no workers:heartbeat: only its pid speaks for it, and it runs
        assert r.hget("resque:workers:heartbeat", member) is None
        assert forkq_cli(url, "prune") == []
        assert r.get(claim_key) == claim
        assert member in {w.decode() for w in r.smembers("resque:workers")}
        assert failures(r) == []
        assert live.poll() is None
        assert call(redis_server, "workers") == {ready["name"]: "nodeq"}
    finally:
        live.kill()
        live.wait(20)


def test_forkq_prune_clears_a_killed_node_worker_and_fails_its_job(r, redis_server, url,
                                                                   spawn_worker):
    live, ready = hold_node_worker(redis_server, ["nodeq"], {
        "NodeSleep": {"behaviour": "record", "list": "test:node", "sleep_ms": 60000,
                      "started": "test:node_started"}})
    try:
        member = ready["name"] + ":nodeq"
        forkq.Producer(r).enqueue("NodeSleep", 8, queue="nodeq")
        pop(r, "test:node_started", timeout=20)
        wait_until(lambda: r.get("resque:worker:" + member), message="node-resque's claim")
    finally:
        live.kill()  # dies mid-job: no untrack, the claim stays behind
        live.wait(20)
    assert member in {w.decode() for w in r.smembers("resque:workers")}
    # a forkq worker's start-up prune (same host, pid gone) takes it
    worker = spawn_worker("-q", "default", "--burst")
    assert worker.wait(20) == 0, worker.log
    assert member not in {w.decode() for w in r.smembers("resque:workers")}
    assert r.get("resque:worker:" + member) is None
    [entry] = failures(r)  # its job is in failed, not lost
    assert entry["payload"] == {"class": "NodeSleep", "args": [8]}
    assert entry["exception"] == "Resque::DirtyExit" and entry["queue"] == "nodeq"
    assert entry["worker"] == member
    assert call(redis_server, "workers") == {}
    assert [f["payload"]["class"] for f in call(redis_server, "failed", 0, -1)] == ["NodeSleep"]


def test_forkq_prune_command_clears_a_dead_node_worker(r, redis_server, url):
    """The same through `forkq prune`, for a node-resque worker that died between jobs."""
    dead_name = "%s:%d" % (HOST, dead_pid())
    r.sadd("resque:workers", dead_name + ":nodeq")
    r.set("resque:worker:%s:nodeq:started" % dead_name, str(int(time.time())))
    r.set("resque:worker:%s:nodeq" % dead_name, json.dumps({
        "run_at": time.strftime("%a %b %d %Y %H:%M:%S GMT+0000"), "queue": "nodeq",
        "worker": dead_name,
        "payload": {"class": "NodeSleep", "queue": "nodeq", "args": [7]}}))
    [row] = forkq_cli(url, "prune")
    assert row["worker"] == dead_name + ":nodeq" and row["job"] == "NodeSleep"
    assert r.smembers("resque:workers") == set()
    [entry] = failures(r)
    assert entry["payload"] == {"class": "NodeSleep", "queue": "nodeq", "args": [7]}
    assert entry["worker"] == dead_name + ":nodeq"


def test_node_resque_delayed_jobs_are_visible_through_forkq(r, redis_server):
    at_ms = int((time.time() + 3600) * 1000)
    peer(redis_server, {"cmd": "enqueueAt", "timestamp_ms": at_ms, "queue": "later",
                        "class": "Mailers::Signup", "args": [42]})
    producer = forkq.Producer(r)
    assert producer.delayed_count() == 1
    [(stamp, items)] = producer.delayed()
    assert stamp == round(at_ms / 1000)  # node-resque rounds to the second
    assert items == [{"class": "Mailers::Signup", "queue": "later", "args": [42]}]
    assert r.llen("resque:queue:later") == 0  # read only: nothing moved


def test_node_resque_reads_forkq_claim_shape(r):
    """The claim keeps Ruby's keys first, adds node-resque's "worker" (host:pid), then
    forkq's "seq" last, where readers that do not know it pass it by."""
    claim = wire.claim_json("q", "2026-11-23T00:48:52Z", '{"class":"X","args":[]}',
                                worker="h:1", seq=5)
    assert list(json.loads(claim)) == ["queue", "run_at", "payload", "worker", "seq"]
