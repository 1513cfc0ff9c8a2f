"""resque-scheduler's delayed jobs between forkq and node-resque, both ways: node-resque's
enqueueAt moved by forkq's scheduler and performed by forkq; forkq's enqueue_at moved by
node-resque's scheduler; and two forkq schedulers beside node-resque's leader never move a
job twice (node's leader lock is its own key: only the atomic moves keep them apart)."""
import json
import time

import pytest
from harness import pop, wait_until
from nodepeer import Held, require_node_resque, run

import forkq

FAST = ("--scheduler-interval", "0.2", "--lock-timeout", "3")


@pytest.fixture(autouse=True)
def node_resque():
    require_node_resque()


def redis_now(r):
    secs, micros = r.time()
    return secs + micros / 1e6


def test_node_enqueue_at_moved_by_forkq_and_performed_by_forkq(r, redis_server,
                                                               spawn_scheduler, spawn_worker):
    at = int(redis_now(r)) + 2
    run("peer.js", {"cmd": "enqueueAt", "timestamp_ms": at * 1000, "queue": "nq",
                    "class": "Record", "args": ["from-node", 1]}, redis_server.port)
    raw = r.lrange("resque:delayed:%d" % at, 0, -1)
    assert raw == [b'{"class":"Record","queue":"nq","args":["from-node",1]}']  # node's order
    spawn_scheduler(*FAST)
    spawn_worker("-q", "nq")
    done = pop(r, "test:done", timeout=15)
    assert done["args"] == ["from-node", 1]
    assert redis_now(r) >= at
    assert not r.exists(b"resque:timestamps:" + raw[0])
    assert not r.exists("resque:delayed_queue_schedule")


def test_forkq_enqueue_at_moved_by_node_and_performed_by_forkq(r, redis_server, spawn_worker):
    node = Held("sched_peer.js", {"cmd": "scheduler", "timeout_ms": 100}, redis_server.port)
    try:
        pushed = forkq.enqueue_in(2, "Record", "from-forkq", queue="fq", connection=r)
        spawn_worker("-q", "fq")
        done = pop(r, "test:done", timeout=15)
        assert done["args"] == ["from-forkq"]
    finally:
        events = node.stop()
    moved = [e for e in events if e.get("event") == "transferredJob"]
    assert len(moved) == 1 and moved[0]["timestamp"] == pushed.timestamp
    assert moved[0]["job"] == {"class": "Record", "args": ["from-forkq"], "queue": "fq"}
    assert not r.exists("resque:delayed_queue_schedule")


def test_two_forkq_schedulers_and_node_leader_never_move_a_job_twice(r, redis_server,
                                                                      spawn_scheduler):
    from forkq.wire.scheduler import delayed_item
    schedulers = [spawn_scheduler("--delayed-batch-size", "3", "--scheduler-interval", "0.05",
                                  "--lock-timeout", "3") for _ in range(2)]
    wait_until(lambda: any("is master" in s.log for s in schedulers), message="a master")
    node = Held("sched_peer.js", {"cmd": "scheduler", "timeout_ms": 20}, redis_server.port)
    jobs = 1500
    try:
        # already due when they appear (written at once, as a scheduler-less backlog would
        # be): all three schedulers race for them from their next poll on
        now = int(redis_now(r))
        pipe = r.pipeline(transaction=True)
        for i in range(jobs):
            item, ts = delayed_item("Both", [i], "both"), now - 1 - i % 4
            pipe.rpush("resque:delayed:%d" % ts, item)
            pipe.sadd("resque:timestamps:" + item, "delayed:%d" % ts)
            pipe.zadd("resque:delayed_queue_schedule", {str(ts): ts})
        pipe.execute()
        wait_until(lambda: not r.exists("resque:delayed_queue_schedule"), timeout=20,
                   message="every timestamp moved")
        time.sleep(0.5)
    finally:
        events = node.stop()
    entries = [json.loads(x) for x in r.lrange("resque:queue:both", 0, -1)]
    got = sorted(e["args"][0] for e in entries)
    assert got == list(range(jobs)), "%d entries for %d jobs" % (len(got), jobs)
    by_node = sum(1 for e in events if e.get("event") == "transferredJob")
    by_forkq = sum(1 for e in entries if list(e) == ["class", "args"])
    print("moved by node-resque: %d, by forkq: %d" % (by_node, by_forkq))
    assert by_node + by_forkq == jobs
    assert not r.keys("resque:timestamps:*")
