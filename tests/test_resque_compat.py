"""What Ruby Resque and resque-web read from forkq, byte for byte (RESQUE_CONTRACT.md §14).

Each test names the §14 checklist item it covers.
"""
import json
import re
import signal
import socket
import time

from conftest import enqueue_raw, failures, pop, registered_id, wait_until

import forkq
from forkq import protocol
from forkq.store import Store

HOST = socket.gethostname()
RUN_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
STARTED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000$")
HEARTBEAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
FAILED_AT = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d UTC$")


def test_14_1_byte_exact_json_for_dequeue_and_ruby_floats(r):
    """§14.1: compact JSON, class→args order, raw UTF-8, Ruby's float spelling, no NaN."""
    producer = forkq.Producer(r)
    producer.enqueue("Record", 1e20, 0.5, "ü/x", {"k": [None, True]}, queue="q")
    raw = r.lindex("resque:queue:q", 0)
    assert raw == '{"class":"Record","args":[1.0e+20,0.5,"ü/x",{"k":[null,true]}]}'.encode()
    # Ruby's Resque.dequeue LREMs the bytes it would write; ours are those bytes.
    assert r.lrem("resque:queue:q", 0, protocol.job_payload(
        "Record", [1e20, 0.5, "ü/x", {"k": [None, True]}])) == 1
    try:
        producer.enqueue("Record", float("nan"), queue="q")
        raise AssertionError("NaN was encoded")
    except ValueError:
        pass
    assert r.llen("resque:queue:q") == 0


def test_14_2_everything_forkq_writes_is_valid_json(r, spawn_worker):
    """§14.2 and §14.11/13: failed entries and worker:<id> values parse; backtrace is a list,
    worker a string; worker:<id> exists only while a job runs and is never empty."""
    enqueue_raw(r, "default", b"\xff not json")
    enqueue_raw(r, "default", b'{"class":"X","args":[NaN]}')
    enqueue_raw(r, "default", {"class": "Fail", "args": ["é\u2028"]})
    enqueue_raw(r, "default", {"class": "Exit", "args": [3]})
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "probe"]})
    worker = spawn_worker("-q", "default")
    pop(r, "test:started")
    wid = registered_id(r, worker.pid)
    claim = r.get("resque:worker:" + wid)
    assert claim and json.loads(claim)["payload"]["class"] == "Sleep"
    for raw in r.lrange("resque:failed", 0, -1):
        raw.decode("utf-8")  # valid UTF-8
        entry = json.loads(raw)
        assert isinstance(entry["backtrace"], list)
        assert isinstance(entry["worker"], str) and entry["worker"] == wid
        assert FAILED_AT.match(entry["failed_at"])
    assert len(failures(r)) == 4
    worker.signal(signal.SIGQUIT)
    worker.signal(signal.SIGUSR1)  # end the sleeping job; QUIT then lets the worker leave
    assert worker.wait(15) == 0
    assert r.get("resque:worker:" + wid) is None


def test_14_3_timestamp_shapes_on_the_wire(r, spawn_worker, redis_server):
    """§14.3 / §5: started, heartbeat (offset form, from Redis TIME), run_at, failed_at."""
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "times"]})
    worker = spawn_worker("-q", "default")
    pop(r, "test:started")
    wid = registered_id(r, worker.pid)
    assert STARTED.match(r.get("resque:worker:%s:started" % wid).decode())
    assert HEARTBEAT.match(r.hget("resque:workers:heartbeat", wid).decode())
    assert RUN_AT.match(json.loads(r.get("resque:worker:" + wid))["run_at"])
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert FAILED_AT.match(failures(r)[0]["failed_at"])


def test_14_3_heartbeat_comes_from_redis_time(r, redis_server):
    store = Store(redis_server.url, "resque")
    iso, secs, _registered = store.heartbeat("h:1:q")
    redis_now = r.time()[0]
    assert abs(secs - redis_now) <= 1
    assert protocol.parse_time(iso) == secs
    assert r.hget("resque:workers:heartbeat", "h:1:q").decode() == iso


def test_14_4_worker_id_has_three_parts_and_no_exclusions(r, spawn_worker):
    """§14.4: host:pid:queues with socket.gethostname(), exclusions left out, globs kept."""
    worker = spawn_worker("-q", "critical,a*,!ab", "--interval", "0.1")
    wid = registered_id(r, worker.pid)
    assert wid == "%s:%d:critical,a*" % (HOST, worker.pid)
    assert len(wid.split(":")) == 3


def test_14_6_heartbeat_keeps_coming_during_a_long_job(r, spawn_worker):
    """§14.6: the single-threaded parent heartbeats while it waits on a child."""
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "beat"]})
    worker = spawn_worker("-q", "default", "--heartbeat-interval", "0.5", "--prune-interval",
                          "5")
    pop(r, "test:started")
    wid = registered_id(r, worker.pid)
    first = r.hget("resque:workers:heartbeat", wid)
    wait_until(lambda: r.hget("resque:workers:heartbeat", wid) != first, timeout=5,
               message="a second heartbeat while the job runs")
    assert r.get("resque:worker:" + wid) is not None  # still working on the job


def test_14_7_counters_are_decimal_strings_and_count_like_ruby(r, spawn_worker):
    """§14.7 / §9.4: processed counts every job; failed only the job's own exceptions."""
    enqueue_raw(r, "default", {"class": "Record", "args": [1]})
    enqueue_raw(r, "default", {"class": "Fail", "args": ["x"]})
    enqueue_raw(r, "default", {"class": "Kill", "args": ["SIGKILL"]})
    worker = spawn_worker("-q", "default", "--burst")
    assert worker.wait(20) == 0
    assert r.get("resque:stat:processed") == b"3"
    assert r.get("resque:stat:failed") == b"1"
    assert r.llen("resque:failed") == 2  # what resque-web shows as "failed"


def test_14_8_and_10_extra_keys_and_activejob_shape_survive(r, spawn_worker):
    """§14.8/10: string-keyed hashes, null, big ints; extra payload keys kept in worker:<id>
    and failed (ActiveJob's wrapper shape)."""
    wrapper = ('{"class":"Sleep","args":[30,"aj"],"id":"abc-123",'
               '"job_class":"ActiveJob::Thing","enqueued_at":1.5e+20}')
    enqueue_raw(r, "default", wrapper)
    worker = spawn_worker("-q", "default")
    pop(r, "test:started")
    wid = registered_id(r, worker.pid)
    claim = r.get("resque:worker:" + wid).decode()
    assert '"payload":' + wrapper + ',"worker":"%s:%d"}' % (HOST, worker.pid) in claim
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    failed = r.lindex("resque:failed", 0).decode()
    assert '"payload":' + wrapper + ',"exception":' in failed


def test_14_12_push_adds_the_queue_to_the_set(r):
    """§14.12: every push SADDs queues, so wildcard workers and resque-web see it."""
    forkq.Producer(r).enqueue("Record", queue="fresh")
    assert r.sismember("resque:queues", "fresh")


def test_14_14_pause_all_workers_is_case_and_space_insensitive(r, spawn_worker):
    r.set("resque:pause-all-workers", "  True ")
    worker = spawn_worker("-q", "default", "--burst")
    enqueue_raw(r, "default", {"class": "Record", "args": ["paused"]})
    assert worker.wait(15) == 0  # burst with nothing reservable: exits, as INTERVAL=0 does
    assert r.llen("resque:queue:default") == 1


def resque_web_retry(client, index):
    """resque-web's Retry: LINDEX, add retried_at, LSET in place, Job.create(class, *args)."""
    item = json.loads(client.lindex("resque:failed", index))
    item["retried_at"] = time.strftime("%Y/%m/%d %H:%M:%S UTC", time.gmtime())
    client.lset("resque:failed", index, json.dumps(item, separators=(",", ":")))
    payload = item["payload"]
    client.sadd("resque:queues", item["queue"])
    client.rpush("resque:queue:" + item["queue"], json.dumps(
        {"class": payload["class"], "args": payload["args"]}, separators=(",", ":")))


def resque_web_remove(client, index):
    """resque-web's Remove: LSET to the empty-string sentinel, then LREM 1 of it."""
    client.lset("resque:failed", index, "")
    client.lrem("resque:failed", 1, "")


def test_failures_retried_as_resque_web_does_are_performed_again(r, spawn_worker):
    enqueue_raw(r, "default", '{"class":"Record","args":["again"],"id":"x"}')
    enqueue_raw(r, "default", {"class": "Fail", "args": ["first"]})
    # Both fail first: a worker that only knows the example jobs does not know these.
    worker = spawn_worker("-q", "default", "--burst", "-r", "forkq.example")
    assert worker.wait(20) == 0
    entries = failures(r)
    assert [e["exception"] for e in entries] == ["forkq.UnknownJob", "forkq.UnknownJob"]
    resque_web_retry(r, 0)
    resque_web_remove(r, 1)
    worker = spawn_worker("-q", "default", "--burst")
    assert worker.wait(20) == 0
    assert pop(r, "test:done")["args"] == ["again"]
    [kept] = failures(r)
    assert "retried_at" in kept and kept["payload"]["id"] == "x"
