"""Another client's long Lua script makes Redis answer BUSY to everyone else: redis-py has no
class for it (a plain ResponseError), and a worker used to exit 70 on it, idle or mid-job, its
job killed unrecorded. Now every "not now" reply is waited out (store/client.py NotNowError)
and NOSCRIPT is answered by loading the script again.

The worker's Redis is a server of the test's own, with busy-reply-threshold at 100 ms; the jobs
report to the suite's server."""
import threading
import time

import pytest
from harness import RedisServer, enqueue_raw, failures, pop, registered_id, wait_until

# Spins for ARGV[1] seconds by Redis's own clock: no other client is served meanwhile.
SPIN = """
local t0 = tonumber(redis.call('TIME')[1])
while tonumber(redis.call('TIME')[1]) - t0 < tonumber(ARGV[1]) do end
return 1
"""


@pytest.fixture
def busy_server():
    srv = RedisServer()
    c = srv.client()
    c.config_set("busy-reply-threshold", 100)  # lua-time-limit: BUSY after 100 ms
    c.close()
    yield srv
    srv.cleanup()


def busy(server, seconds):
    """Another client runs a script that keeps Redis busy for `seconds`, in a thread."""
    def spin():
        c = server.client()
        try:
            c.eval(SPIN, 0, seconds)
        finally:
            c.close()
    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    return thread


def start(spawn_worker, server, url):
    return spawn_worker("-q", "default", "--heartbeat-interval", "1", "--prune-interval", "5",
                        "--interval", "0.1", url_override=server.url,
                        env={"FORKQ_TEST_REDIS_URL": url})


def test_busy_redis_is_waited_out_idle_and_mid_job(busy_server, r, url, spawn_worker):
    client = busy_server.client()
    worker = start(spawn_worker, busy_server, url)
    wid = registered_id(client, worker.pid)
    # idle: its reserves (every 0.1 s) and heartbeats meet BUSY for 3 s
    busy(busy_server, 3).join(10)
    assert "BUSY" in worker.log, worker.log[-2000:]
    assert worker.alive(), worker.log[-2000:]
    # mid-job: the job runs on while its worker's heartbeats meet BUSY
    enqueue_raw(client, "default", {"class": "Sleep", "args": [4, "busy"]})
    assert pop(r, "test:started", timeout=20)["tag"] == "busy"
    before = worker.log.count("BUSY")
    busy(busy_server, 3).join(10)
    assert pop(r, "test:done", timeout=20)["tag"] == "busy"
    wait_until(lambda: client.get("resque:stat:processed") == b"1" and
               client.get("resque:worker:" + wid) is None, timeout=15,
               message="the job recorded once")
    assert worker.log.count("BUSY") > before  # it did meet BUSY mid-job
    assert worker.alive() and failures(client) == []
    assert client.sismember("resque:workers", wid)
    client.close()


def test_a_flushed_script_cache_is_reloaded(busy_server, r, url, spawn_worker):
    client = busy_server.client()
    worker = start(spawn_worker, busy_server, url)
    wid = registered_id(client, worker.pid)
    client.script_flush()  # NOSCRIPT to the next EVALSHA: load it again, not an error
    enqueue_raw(client, "default", {"class": "Record", "args": ["after flush"]})
    assert pop(r, "test:done", timeout=20)["args"] == ["after flush"]
    wait_until(lambda: client.get("resque:stat:processed") == b"1", timeout=10,
               message="the job recorded")
    time.sleep(1.5)  # a heartbeat (every second) after the flush, too
    assert worker.alive() and failures(client) == []
    assert client.sismember("resque:workers", wid)
    client.close()
