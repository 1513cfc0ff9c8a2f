"""Pruning after node-resque's forceCleanWorker: its failure for a job counts, so the job is
not recorded a second time; any doubt records it (a job is never lost)."""
import json
import types

import pytest
from harness import failures

from forkq import errors, wire
from forkq.store.worker_io import Store
from forkq.worker import prune

WID = "otherhost:777:default"
PAYLOAD = '{"class":"X","args":[1],"id":"j1"}'


class Log:
    def __init__(self):
        self.events = []

    def event(self, name, message="", **fields):
        self.events.append((name, message, fields))


CONFIG = types.SimpleNamespace(heartbeat_interval=60, prune_interval=300)


@pytest.fixture
def store(url, r):
    s = Store(url, "resque")
    yield s
    s.redis.close()


def node_failure(worker="otherhost:777", payload=PAYLOAD):
    # the shape node-resque's forceCleanWorker pushes: it names the worker host:pid
    return json.dumps({"worker": worker, "queue": "default", "payload": json.loads(payload),
                       "exception": "Worker Timeout (killed manually)",
                       "error": "Worker Timeout (killed manually)",
                       "backtrace": ["killed by forceCleanWorker"],
                       "failed_at": "Mon Nov 23 2026 00:48:52 GMT+0000"})


def dead_forkq_worker(r, registered):
    """A forkq worker on another host that died holding a job, its heartbeat long stale."""
    r.set("resque:worker:" + WID, wire.claim_json("default", "2026-11-23T00:48:52Z",
                                                      PAYLOAD, worker="otherhost:777"))
    r.hset("resque:workers:heartbeat", WID, "2020-01-01T00:00:00+00:00")
    if registered:
        r.sadd("resque:workers", WID)


def run_prune(store):
    return prune.prune_dead_workers(store, "thishost", "thishost:1:default", CONFIG, Log())


def test_a_job_node_resque_already_failed_is_not_recorded_again(store, r):
    dead_forkq_worker(r, registered=False)  # forceCleanWorker took it out of `workers`
    r.rpush("resque:failed", node_failure(worker="otherhost:7"))  # same job, other worker
    r.rpush("resque:failed", node_failure(worker="otherhost:777"))
    r.rpush("resque:failed", *[json.dumps({"worker": "w", "payload": i}) for i in range(150)])
    pruned = run_prune(store)
    assert [p[0] for p in pruned] == [WID]
    assert r.llen("resque:failed") == 152
    assert not r.exists("resque:worker:" + WID)
    assert not r.hexists("resque:workers:heartbeat", WID)


@pytest.mark.parametrize("case", ["other payload", "still registered", "too far back",
                                  "no failure at all", "forkq's own failure"])
def test_a_job_without_such_a_record_is_recorded(store, r, case):
    dead_forkq_worker(r, registered=case == "still registered")
    if case == "forkq's own failure":
        # the same job failed before under this very worker, written as forkq writes it (the
        # full id): a job that keeps failing, not node-resque's record of this claim
        r.rpush("resque:failed", wire.failure_json(
            "2026/11/23 00:40:00 UTC", PAYLOAD, "RuntimeError", "boom", [], WID, "default"))
    elif case == "other payload":
        r.rpush("resque:failed", node_failure(payload='{"class":"X","args":[2],"id":"j2"}'))
    elif case in ("still registered", "too far back"):
        r.rpush("resque:failed", node_failure())
    if case == "too far back":
        r.rpush("resque:failed", *[json.dumps({"worker": "w", "payload": i}) for i in range(200)])
    before = r.llen("resque:failed")
    run_prune(store)
    assert r.llen("resque:failed") == before + 1
    entry = failures(r)[-1]
    assert entry["worker"] == WID and entry["exception"] == errors.PRUNE_DIRTY_EXIT
    assert entry["payload"] == json.loads(PAYLOAD)
    assert not r.exists("resque:worker:" + WID) and not r.sismember("resque:workers", WID)
