"""What Ruby Resque and resque-web read from forkq, byte for byte (RESQUE_CONTRACT.md §14).

Each test names the §14 checklist item it covers.
"""
import json
import re
import signal
import socket
import subprocess
import time

import psutil
from harness import enqueue_raw, failures, pop, registered_id, wait_until

import forkq
from forkq import wire
from forkq.store.worker_io import Store

HOST = socket.gethostname()
RUN_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
STARTED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000$")
HEARTBEAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
FAILED_AT = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d UTC$")
# Ruby's worker_pids on Linux (Resque 3.0 worker.rb), byte for byte
RUBY_LIVENESS_GREP = ('ps -A -o pid,command | grep -E "[r]esque:work|[r]esque: Starting|'
                      '[r]esque-[0-9]" | grep -v "resque-web"')
ACTIVEJOB_WRAPPER = "ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper"


def title(pid):
    return " ".join(psutil.Process(pid).cmdline()).strip()


def script_calls(client):
    """Scripts the server has run: every reserve cycle of a forkq worker is one, so a rise of
    N means the worker looked at its queues (and the pause key) about N times."""
    stats = client.info("commandstats")
    return sum(stats.get(k, {}).get("calls", 0) for k in ("cmdstat_evalsha", "cmdstat_eval"))


def wait_for_cycles(client, count, timeout=15):
    start = script_calls(client)
    wait_until(lambda: script_calls(client) >= start + count, timeout=timeout,
               message="%d reserve cycles" % count)


def test_14_1_byte_exact_json_for_dequeue_and_ruby_floats(r):
    """§14.1: compact JSON, class→args order, raw UTF-8, Ruby's float spelling, no NaN."""
    producer = forkq.Producer(r)
    producer.enqueue("Record", 1e20, 0.5, "ü/x", {"k": [None, True]}, queue="q")
    raw = r.lindex("resque:queue:q", 0)
    assert raw == '{"class":"Record","args":[1.0e+20,0.5,"ü/x",{"k":[null,true]}]}'.encode()
    # Ruby's Resque.dequeue LREMs the bytes it would write; ours are those bytes.
    assert r.lrem("resque:queue:q", 0, wire.job_payload(
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
    assert wire.parse_time(iso) == secs
    assert r.hget("resque:workers:heartbeat", "h:1:q").decode() == iso


def test_14_3_worker_heartbeat_ignores_a_wrong_host_clock(r, spawn_worker):
    """§14.3: Ruby compares the heartbeat with Redis TIME, so it must be taken from there. The
    worker's clock here runs a day ahead (tests/clockshift_interop.py): run_at and started
    show it, the heartbeat must not."""
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "clock"]})
    worker = spawn_worker("-q", "default", "-r", "workerjobs", "-r", "clockshift_interop")
    pop(r, "test:started")
    wid = registered_id(r, worker.pid)
    redis_now = r.time()[0]
    beat = r.hget("resque:workers:heartbeat", wid).decode()
    assert HEARTBEAT.match(beat)
    assert abs(wire.parse_time(beat) - redis_now) <= 5, (beat, redis_now)
    # proof the shift took: what forkq stamps from its own clock is a day ahead
    run_at = json.loads(r.get("resque:worker:" + wid))["run_at"]
    assert abs(wire.parse_time(run_at) - (redis_now + 86400)) <= 60, run_at
    started = r.get("resque:worker:%s:started" % wid).decode()
    assert abs(wire.parse_started(started) - (redis_now + 86400)) <= 60, started


def test_14_4_worker_id_has_three_parts_and_no_exclusions(r, spawn_worker):
    """§14.4: host:pid:queues with socket.gethostname(), exclusions left out, globs kept."""
    worker = spawn_worker("-q", "critical,a*,!ab", "--interval", "0.1")
    wid = registered_id(r, worker.pid)
    assert wid == "%s:%d:critical,a*" % (HOST, worker.pid)
    assert len(wid.split(":")) == 3


def test_14_5_idle_worker_title_matches_rubys_liveness_grep(r, spawn_worker):
    """§14.5: a starting Ruby worker on this host prunes registered workers whose pid its grep
    does not find, idle ones included (the mid-job case is in test_worker_lifecycle.py)."""
    worker = spawn_worker("-q", "default", "--interval", "0.2")
    registered_id(r, worker.pid)
    wait_until(lambda: "Waiting for default" in title(worker.pid),
               message="the idle title")
    assert r.get("resque:worker:%s:%d:default" % (HOST, worker.pid)) is None  # really idle
    ps = subprocess.run(RUBY_LIVENESS_GREP, shell=True, capture_output=True,
                        text=True).stdout
    found = {int(line.split()[0]): line for line in ps.splitlines()}
    assert worker.pid in found, ps
    assert "resque-3.0.0-forkq-" in found[worker.pid] and "resque-web" not in found[worker.pid]


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


def activejob_payload(job_id, arguments):
    """What Rails' Resque adapter pushes (Resque.push of JobWrapper and job.serialize), plus
    an extra top-level "id"."""
    return json.dumps({"class": ACTIVEJOB_WRAPPER, "args": [{
        "job_class": "SignupMailerJob", "job_id": job_id, "provider_job_id": None,
        "queue_name": "default", "priority": None, "arguments": arguments,
        "executions": 0, "exception_executions": {}, "locale": "en", "timezone": "UTC",
        "enqueued_at": "2026-11-23T00:48:52.123456789Z", "scheduled_at": None}],
        "id": "x-" + job_id}, separators=(",", ":"), ensure_ascii=False)


def test_14_8_and_10_activejob_wrapper_payload_is_performed_and_kept(r, spawn_worker):
    """§14.8/10: ActiveJob's real wrapper shape reaches the job as one string-keyed hash (null,
    nested hashes, GlobalID arguments intact) and its bytes, extra keys included, survive into
    worker:<id> and failed."""
    failing = activejob_payload("0f6a3b1e-7c1d-4d35-9f43-1c1f0c4b9a01",
                                ["fail", "smtp down", {"_aj_globalid": "gid://app/User/42"}])
    sleeping = activejob_payload("5d0c4a8e-2b7f-4e11-8a9d-6f3e2c1b0a99",
                                 ["sleep", 30, {"plan": "pro", "_aj_symbol_keys": []}, None])
    enqueue_raw(r, "default", failing)
    enqueue_raw(r, "default", sleeping)
    worker = spawn_worker("-q", "default", "-r", "workerjobs", "-r", "jobs_interop")
    first = pop(r, "test:started")
    assert first["job_class"] == "SignupMailerJob"
    assert first["arguments"] == ["fail", "smtp down", {"_aj_globalid": "gid://app/User/42"}]
    second = pop(r, "test:started")
    assert second["arguments"] == ["sleep", 30, {"plan": "pro", "_aj_symbol_keys": []}, None]
    wid = registered_id(r, worker.pid)
    claim = r.get("resque:worker:" + wid).decode()
    assert claim.startswith('{"queue":"default","run_at":"')
    assert '"payload":' + sleeping + ',"worker":"%s:%d","seq":' % (HOST, worker.pid) in claim
    [raised] = r.lrange("resque:failed", 0, -1)
    assert '"payload":' + failing + ',"exception":"RuntimeError","error":"smtp down",' in \
        raised.decode()
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    killed = r.lindex("resque:failed", 1).decode()
    assert '"payload":' + sleeping + ',"exception":"Resque::DirtyExit"' in killed
    assert [f["payload"]["id"] for f in failures(r)] == [
        "x-0f6a3b1e-7c1d-4d35-9f43-1c1f0c4b9a01", "x-5d0c4a8e-2b7f-4e11-8a9d-6f3e2c1b0a99"]


def test_14_9_a_message_that_is_not_valid_unicode_is_written_as_utf8(r, spawn_worker):
    """§14.9: an exception message with a lone surrogate (a non-UTF-8 file name through
    os.fsdecode) still gives a failed entry of valid UTF-8 JSON whose strings are valid
    Unicode, and the worker carries on with the next job."""
    enqueue_raw(r, "default", {"class": "SurrogateFail", "args": ["\u00fe.txt"]})
    enqueue_raw(r, "default", {"class": "Record", "args": ["next"]})
    worker = spawn_worker("-q", "default", "--burst", "-r", "workerjobs", "-r", "jobs_interop")
    assert pop(r, "test:done", timeout=20)["args"] == ["next"]
    assert worker.wait(20) == 0, worker.log
    [raw] = r.lrange("resque:failed", 0, -1)
    entry = json.loads(raw.decode("utf-8"))  # strict: invalid UTF-8 raises here
    assert entry["exception"] == "ValueError" and entry["error"].endswith(".txt")
    for text in (entry["error"], *entry["backtrace"]):
        text.encode("utf-8")  # no lone surrogate smuggled through as a \udcfe escape
    assert r.get("resque:stat:processed") == b"2"


def test_14_12_push_adds_the_queue_to_the_set(r):
    """§14.12: every push SADDs queues, so wildcard workers and resque-web see it."""
    forkq.Producer(r).enqueue("Record", queue="fresh")
    assert r.sismember("resque:queues", "fresh")


def test_14_13_worker_key_is_absent_between_jobs_and_never_empty(r, spawn_worker):
    """§14.13: resque-web calls any non-nil worker:<id> "working"."""
    worker = spawn_worker("-q", "default", "--interval", "0.1")
    wid = registered_id(r, worker.pid)
    key = "resque:worker:" + wid
    wait_for_cycles(r, 3)
    assert r.get(key) is None  # idle before the first job
    for i in range(15):
        enqueue_raw(r, "default", {"class": "Record", "args": [i]})
    seen = []
    done = 0
    deadline = time.monotonic() + 60
    while done < 15:
        seen.append(r.get(key))
        done += r.lpop("test:done") is not None
        assert time.monotonic() < deadline, "only %d of 15 jobs done" % done
    for value in seen:
        assert value != b""
        if value is not None:
            assert set(json.loads(value)) >= {"queue", "run_at", "payload"}
    assert any(value is not None for value in seen)  # the sampling did see jobs running
    wait_until(lambda: r.get(key) is None, message="worker:<id> to go once the queue is empty")
    wait_for_cycles(r, 5)  # idle polls do not write it back
    assert r.exists(key) == 0
    assert "Waiting for default" in title(worker.pid)


def test_14_14_pause_all_workers_is_case_and_space_insensitive(r, spawn_worker):
    """§14.14: checked before every reserve: a polling worker leaves the job queued while
    the key says "  True ", and takes it once the key is gone."""
    r.set("resque:pause-all-workers", "  True ")
    worker = spawn_worker("-q", "default", "--interval", "0.1")
    wid = registered_id(r, worker.pid)
    wait_until(lambda: title(worker.pid).endswith(": Paused"), message="the Paused title")
    enqueue_raw(r, "default", {"class": "Record", "args": ["paused"]})
    wait_for_cycles(r, 5)  # the worker looked at the pause key several times since the push
    assert r.llen("resque:queue:default") == 1
    assert r.get("resque:worker:" + wid) is None
    assert title(worker.pid).endswith(": Paused")
    r.delete("resque:pause-all-workers")
    assert pop(r, "test:done", timeout=15)["args"] == ["paused"]
    assert r.llen("resque:queue:default") == 0


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
