"""Interop with a real Resque implementation nobody here wrote: node-resque (npm).

node-resque enqueues jobs forkq performs, performs jobs forkq enqueues, reads forkq's workers
and failures, and cleans up after a dead forkq worker; forkq's prune leaves live node-resque
workers alone and cleans up after dead ones. Skipped only where `node` is not installed;
tests/run.sh installs node-resque from npm, so in CI these always run.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import TESTS, alive, dead_pid, enqueue_raw, failures, pop, registered_id, wait_until

import forkq
from forkq import protocol

NODE = shutil.which("node")
PEER = os.path.join(TESTS, "node", "peer.js")
HOST = socket.gethostname()

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the node-resque "
                                                      "interop tests need it (tests/run.sh "
                                                      "installs node-resque with npm)")


@pytest.fixture(scope="module", autouse=True)
def node_resque_installed():
    if not os.path.isdir(os.path.join(TESTS, "node", "node_modules", "node-resque")):
        pytest.fail("node is here but node-resque is not installed: run "
                    "`npm install --prefix tests/node` (tests/run.sh does)")


def peer(redis_server, cmd, timeout=30):
    cmd = dict(cmd, port=redis_server.port)
    done = subprocess.run([NODE, PEER, json.dumps(cmd)], capture_output=True, text=True,
                          timeout=timeout)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert done.returncode == 0, (done.stdout, done.stderr)
    return lines[-1]


def call(redis_server, method, *args):
    return peer(redis_server, {"cmd": "call", "method": method, "args": list(args)})["result"]


def hold_node_worker(redis_server, queues, jobs):
    proc = subprocess.Popen([NODE, PEER, json.dumps({
        "cmd": "hold", "port": redis_server.port, "queues": queues, "jobs": jobs})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = json.loads(proc.stdout.readline())
    assert ready.get("ready"), ready
    return proc, ready


def test_node_resque_enqueues_and_forkq_performs_in_priority_order(r, redis_server,
                                                                   spawn_worker):
    big = 2 ** 53 - 1  # the largest integer a JavaScript producer can write exactly
    jobs = [{"queue": "low", "class": "Record", "args": ["low", 1]},
            {"queue": "high", "class": "Record", "args": ["héllo ✓ 日本", {"n": [1, [2, {"x": None}]]}]},
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


def test_failures_side_by_side_parse_with_each_others_readers(r, redis_server, spawn_worker):
    forkq.Producer(r).enqueue("NodeFail", "node breaks", queue="nodeq")
    peer(redis_server, {"cmd": "work", "queues": ["nodeq"], "count": 1,
                        "jobs": {"NodeFail": {"behaviour": "fail", "message": "node says no"}}})
    enqueue_raw(r, "default", {"class": "Fail", "args": ["python says no"]})
    worker = spawn_worker("-q", "default", "--burst")
    assert worker.wait(20) == 0
    # node-resque's reader sees both
    seen = call(redis_server, "failed", 0, -1)
    assert [f["error"] for f in seen] == ["node says no", "python says no"]
    assert call(redis_server, "failedCount") == 2
    # forkq's reader (Resque's fields) sees both
    node_entry, forkq_entry = failures(r)
    for entry in (node_entry, forkq_entry):
        assert {"failed_at", "payload", "exception", "error", "backtrace", "worker",
                "queue"} <= set(entry)
        assert isinstance(entry["backtrace"], list) and isinstance(entry["worker"], str)
    assert node_entry["payload"]["class"] == "NodeFail" and node_entry["queue"] == "nodeq"
    assert forkq_entry["exception"] == "ValueError"


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
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert call(redis_server, "workers") == {}
    assert call(redis_server, "allWorkingOn") == {}
    assert call(redis_server, "stats")["processed"] == "1"
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


def test_forkq_prune_spares_live_node_workers_and_clears_dead_ones(r, redis_server,
                                                                   spawn_worker):
    live, ready = hold_node_worker(redis_server, ["nodeq"], {
        "NodeSleep": {"behaviour": "record", "list": "test:node", "sleep_ms": 60000}})
    try:
        # a node-resque worker on this host that died mid-job: pid gone, claim left behind
        dead_name = "%s:%d" % (HOST, dead_pid())
        r.sadd("resque:workers", dead_name + ":nodeq")
        r.set("resque:worker:%s:nodeq" % dead_name, json.dumps({
            "run_at": time.strftime("%a %b %d %Y %H:%M:%S GMT+0000"), "queue": "nodeq",
            "payload": {"class": "NodeSleep", "queue": "nodeq", "args": [7]},
            "worker": dead_name}, separators=(",", ":")))
        worker = spawn_worker("-q", "default", "--burst")
        assert worker.wait(20) == 0, worker.log
        members = {w.decode() for w in r.smembers("resque:workers")}
        assert ready["name"] + ":nodeq" in members       # live node-resque worker kept
        assert dead_name + ":nodeq" not in members       # dead one pruned
        [entry] = failures(r)                            # its job is in failed, not lost
        assert entry["payload"] == {"class": "NodeSleep", "queue": "nodeq", "args": [7]}
        assert entry["exception"] == "Resque::DirtyExit" and entry["queue"] == "nodeq"
        assert call(redis_server, "workers") == {ready["name"]: "nodeq"}
    finally:
        live.send_signal(signal.SIGTERM)
        live.wait(20)


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
    """The claim keeps Ruby's keys first and adds node-resque's "worker" (host:pid)."""
    claim = protocol.claim_json("q", "2026-11-23T00:48:52Z", '{"class":"X","args":[]}',
                                worker="h:1")
    assert list(json.loads(claim)) == ["queue", "run_at", "payload", "worker"]
