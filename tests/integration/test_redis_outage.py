"""A real worker while Redis is stopped, restarted, flushed or cut: it comes back, once a job."""
import os
import re
import signal

import pytest
from harness import enqueue_raw, failures, pop, registered_id, wait_until
from redisfaults import client, server  # noqa: F401  (the fixtures)
from redisproxy import LosingProxy


FAST = ("--heartbeat-interval", "1", "--prune-interval", "5", "--interval", "0.2")


def start(spawn_worker, server, *args):
    return spawn_worker("-q", "default", *(FAST + args), url_override=server.url,
                        env={"FORKQ_TEST_REDIS_URL": server.url})


def test_restart_while_idle(server, client, spawn_worker):
    worker = start(spawn_worker, server)
    wid = registered_id(client, worker.pid)
    server.stop()
    wait_until(lambda: "redis_down" in worker.log, message="the worker to notice")
    server.start()
    client = server.client()
    enqueue_raw(client, "default", {"class": "Record", "args": ["after restart"]})
    assert pop(client, "test:done", timeout=20)["args"] == ["after restart"]
    assert worker.alive() and "Redis is back" in worker.log
    assert client.sismember("resque:workers", wid)
    delays = [float(d) for d in re.findall(r"retrying in ([0-9.]+) s", worker.log)]
    assert delays and delays == sorted(delays) and max(delays) <= 10  # capped, exponential
    if len(delays) > 1:
        assert delays[1] == 2 * delays[0]


def test_restart_mid_job_records_the_job_once_redis_is_back(server, client, spawn_worker,
                                                            tmp_path):
    marker = str(tmp_path / "job")
    enqueue_raw(client, "default", {"class": "SleepFile", "args": [marker, 1.0]})
    worker = start(spawn_worker, server)
    wid = registered_id(client, worker.pid)
    wait_until(lambda: os.path.exists(marker + ".started"), message="the job to start")
    server.stop()
    wait_until(lambda: os.path.exists(marker), timeout=10, message="the job to finish")
    wait_until(lambda: "Redis unavailable" in worker.log, timeout=10,
               message="the worker holding the outcome it cannot write")
    server.start()
    client = server.client()
    wait_until(lambda: client.get("resque:stat:processed") == b"1", timeout=20,
               message="the job recorded after the restart")
    assert failures(client) == []
    assert client.get("resque:worker:" + wid) is None  # nothing half-claimed left
    assert worker.alive()


def test_flushall_while_running_re_registers(server, client, spawn_worker):
    worker = start(spawn_worker, server)
    wid = registered_id(client, worker.pid)
    client.flushall()
    wait_until(lambda: client.sismember("resque:workers", wid), timeout=10,
               message="the worker to register again")
    assert client.get("resque:worker:%s:started" % wid)
    assert client.hget("resque:workers:heartbeat", wid)
    enqueue_raw(client, "default", {"class": "Record", "args": ["still here"]})
    assert pop(client, "test:done")["args"] == ["still here"]


def test_connection_cut_is_survived(server, client, spawn_worker):
    enqueue_raw(client, "default", {"class": "Sleep", "args": [0.5, "cut"]})
    worker = start(spawn_worker, server)
    pop(client, "test:started")
    client.client_kill_filter(_type="normal", skipme=True)  # every client but this one
    assert pop(client, "test:done")["tag"] == "cut"
    wait_until(lambda: client.get("resque:stat:processed") == b"1", message="the record")
    enqueue_raw(client, "default", {"class": "Record", "args": ["after the cut"]})
    assert pop(client, "test:done")["args"] == ["after the cut"]
    assert worker.alive() and failures(client) == []


def test_down_at_start_up_then_up(server, spawn_worker):
    server.stop()
    worker = start(spawn_worker, server)
    wait_until(lambda: "Redis unavailable" in worker.log, message="the worker to retry")
    server.start()
    client = server.client()
    registered_id(client, worker.pid, timeout=20)
    worker.signal(signal.SIGQUIT)
    assert worker.wait(15) == 0


def test_stop_while_redis_is_down_still_exits(server, client, spawn_worker):
    worker = start(spawn_worker, server)
    wid = registered_id(client, worker.pid)
    server.stop()
    wait_until(lambda: "redis_down" in worker.log, message="the worker to notice")
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert "could not unregister" in worker.log
    server.start()
    client = server.client()
    assert client.sismember("resque:workers", wid)  # left behind, for the next prune:
    start(spawn_worker, server)
    wait_until(lambda: not client.sismember("resque:workers", wid), timeout=10,
               message="the next worker to prune the stopped one")


def test_burst_gives_up_with_unavailable_when_redis_stays_down(server, spawn_worker):
    # a long-running worker waits for Redis forever; --burst (scripts, cron) answers with 69
    server.stop()
    worker = start(spawn_worker, server, "--burst")
    assert worker.wait(30) == 69
    assert "giving up: Redis unreachable" in worker.log
    assert "could not unregister" not in worker.log  # it never registered


# --- a real worker whose reply is lost and connections killed ---------------------------------

@pytest.fixture
def proxy(server):
    p = LosingProxy(server.port)
    yield p
    p.close()


def test_a_real_worker_whose_reserve_reply_is_lost_performs_the_job_once(server, client, proxy,
                                                                         spawn_worker):
    # mechanism: Ledger.recover — after the lost reply it reads its claim, sees a job it never
    # got and puts it back at the head of its queue. Without it the job stays claimed by a
    # live worker and is never performed.
    worker = spawn_worker("-q", "default", *FAST, url_override=proxy.url,
                          env={"FORKQ_TEST_REDIS_URL": server.url})  # jobs report directly
    wid = registered_id(client, worker.pid)
    proxy.lose_next_job_reply()
    enqueue_raw(client, "default", {"class": "Record", "args": ["reply lost"]})
    assert proxy.lost.wait(20), "the worker never reserved the job\n" + worker.log[-3000:]
    assert b"reply lost" in proxy.lost_reply  # Redis ran the script: popped and claimed it
    assert pop(client, "test:done", timeout=20)["args"] == ["reply lost"]
    wait_until(lambda: client.get("resque:stat:processed") == b"1" and
               client.get("resque:worker:" + wid) is None, timeout=10,
               message="the job recorded once and its claim gone")
    # exactly once: the next job is the next thing performed, and nothing is recorded twice
    enqueue_raw(client, "default", {"class": "Record", "args": ["next"]})
    assert pop(client, "test:done", timeout=20)["args"] == ["next"]
    assert client.llen("test:done") == 0
    wait_until(lambda: client.get("resque:stat:processed") == b"2" and
               client.get("resque:worker:" + wid) is None, timeout=10,
               message="the second job recorded and nothing left claimed")
    assert failures(client) == [] and client.llen("resque:queue:default") == 0
    assert worker.alive() and client.sismember("resque:workers", wid)
    assert proxy.connections >= 2  # it came back on a new connection


def test_killing_every_connection_of_an_idle_worker_is_survived(server, client, spawn_worker):
    # mechanism: the main connection reconnects on the next call (retrying), and the Waker
    # resubscribes. The poll interval is 30 s, so only a working subscription can explain a
    # job pushed after the kill being performed within 10 s.
    worker = start(spawn_worker, server, "--interval", "30")
    wid = registered_id(client, worker.pid)
    channel = "resque:forkq:wake"

    def subscribed():
        return dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) == 1

    def push(tag):
        enqueue_raw(client, "default", {"class": "Record", "args": [tag]})
        client.publish(channel, "default")  # what forkq's producers do after the push

    wait_until(subscribed, timeout=10, message="the worker to subscribe")
    push("before")
    assert pop(client, "test:done", timeout=10)["args"] == ["before"]
    beat = client.hget("resque:workers:heartbeat", wid)
    normal = client.client_kill_filter(_type="normal", skipme=True)
    pubsub = client.client_kill_filter(_type="pubsub", skipme=True)
    assert normal >= 1 and pubsub >= 1, (normal, pubsub)
    wait_until(subscribed, timeout=15, message="the worker to subscribe again")
    push("after")
    assert pop(client, "test:done", timeout=10)["args"] == ["after"]
    wait_until(lambda: client.hget("resque:workers:heartbeat", wid) != beat, timeout=10,
               message="a heartbeat on a new connection")
    wait_until(lambda: client.get("resque:stat:processed") == b"2", timeout=10,
               message="both jobs recorded")
    assert worker.alive() and failures(client) == []
    assert client.sismember("resque:workers", wid)
