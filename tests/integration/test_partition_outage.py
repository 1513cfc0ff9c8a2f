"""An outage longer than the prune interval (issue 12 case 3): every heartbeat is old when
Redis comes back, the living's too. The first worker back must not prune its peers (nor fail
their jobs): no prune judges heartbeat age across its own blind spell."""
import os
import time

import pytest
from harness import RedisServer, WorkerProcess, enqueue_raw, failures, registered_id, wait_until

FAST = ("--heartbeat-interval", "1", "--prune-interval", "3", "--interval", "0.1",
        "-r", "workerjobs")
OUTAGE = 6.0  # seconds Redis is down: twice the prune interval


@pytest.fixture
def server():
    s = RedisServer(appendonly=True)  # the queue and the claims survive the restart
    yield s
    s.cleanup()


def test_the_first_worker_back_from_an_outage_prunes_nobody(server, tmp_path):
    client = server.client()
    workers = [WorkerProcess(server.url, ("-q", "default") + FAST) for _ in range(2)]
    try:
        ids = [registered_id(client, w.pid) for w in workers]
        paths = [str(tmp_path / ("job%d" % i)) for i in range(2)]
        for path in paths:
            enqueue_raw(client, "default", {"class": "SleepFile", "args": [path, OUTAGE + 3]})
        wait_until(lambda: all(os.path.exists(p + ".started") for p in paths), 20,
                   "both jobs to start")
        server.stop()
        time.sleep(OUTAGE)  # the outage itself: no worker can reach Redis meanwhile
        server.start()
        client = server.client()
        wait_until(lambda: client.get("resque:stat:processed") == b"2", 40,
                   "both jobs' records")
        assert failures(client) == []
        for worker, wid in zip(workers, ids):
            assert worker.alive(), worker.log
            assert "Pruning dead worker" not in worker.log, worker.log
            assert client.sismember("resque:workers", wid)
    finally:
        for worker in workers:
            worker.stop()
        client.close()
