"""`forkq scheduler` against a real redis-server: Ruby's exact effects when moving due delayed
jobs (§12), resque-scheduler's master lock, Redis's clock, and the worker's --scheduler tick."""
import json
import signal
import time

import pytest
from harness import failures, pop, wait_until
from schedharness import LOCK

import forkq

FAST = ("--scheduler-interval", "0.2", "--lock-timeout", "3")


def redis_now(r):
    secs, micros = r.time()
    return secs + micros / 1e6


def delay(r, ts, raw):
    """What Ruby's (or node's) delayed_push writes, byte for byte as given."""
    r.rpush("resque:delayed:%d" % ts, raw)
    r.sadd(b"resque:timestamps:" + raw, "delayed:%d" % ts)
    r.zadd("resque:delayed_queue_schedule", {str(ts): ts})


def test_due_items_move_with_rubys_effects(r, spawn_scheduler):
    ts = int(redis_now(r)) + 2
    later = ts + 3600
    items = [b'{"class":"Ruby::Job","args":["\xc3\xa9",1.5,null],"queue":"q"}',
             b'{"class":"NodeJob","queue":"q","args":[1,"a"]}',          # node-resque's order
             b'{"class":"Hash","args":{"a":1},"queue":"q","extra":true}',  # wrapped, extra gone
             b'{"class":"PyNoQueue","args":[7]}',                         # no queue anywhere
             b'{"class":"Ruby::Job","args":["\xc3\xa9",1.5,null],"queue":"q"}']  # a twin
    for raw in items:
        delay(r, ts, raw)
    delay(r, later, b'{"class":"Later","args":[],"queue":"q"}')
    spawn_scheduler(*FAST)
    first = r.blpop(["resque:queue:q"], timeout=10)
    assert redis_now(r) >= ts, "moved before its time by Redis's clock"
    wait_until(lambda: r.llen("resque:queue:q") == 3, message="the rest of the batch")
    assert [first[1]] + r.lrange("resque:queue:q", 0, -1) == [
        b'{"class":"Ruby::Job","args":["\xc3\xa9",1.5,null]}',
        b'{"class":"NodeJob","args":[1,"a"]}',
        b'{"class":"Hash","args":[{"a":1}]}',
        b'{"class":"Ruby::Job","args":["\xc3\xa9",1.5,null]}']
    assert r.smembers("resque:queues") == {b"q"}
    [entry] = failures(r)
    assert entry["exception"] == "Resque::NoQueueError"
    assert "No queue could be inferred for class PyNoQueue" in entry["error"]
    assert entry["payload"] == {"class": "PyNoQueue", "args": [7]}
    assert isinstance(entry["worker"], str) and entry["backtrace"] == []
    for raw in items:
        assert not r.exists(b"resque:timestamps:" + raw)
    assert not r.exists("resque:delayed:%d" % ts)
    assert r.zrange("resque:delayed_queue_schedule", 0, -1) == [str(later).encode()]
    assert r.llen("resque:delayed:%d" % later) == 1


def test_item_without_queue_takes_the_registered_default(r, spawn_scheduler):
    ts = int(redis_now(r))
    delay(r, ts, b'{"class":"Record","args":["d"]}')  # Record has no default queue
    delay(r, ts, b'{"class":"Delayed::Defaulted","args":["d"]}')
    spawn_scheduler("-r", "schedjobs", *FAST)
    assert r.blpop(["resque:queue:defaulted"], timeout=10)[1] == \
        b'{"class":"Delayed::Defaulted","args":["d"]}'
    wait_until(lambda: failures(r), message="the queue-less Record in failed")
    assert failures(r)[0]["payload"] == {"class": "Record", "args": ["d"]}


def test_master_lock_is_resque_schedulers(r, spawn_scheduler):
    r.set(LOCK, "ruby-host:4242", ex=100)  # a Ruby resque-scheduler is master
    ts = int(redis_now(r))
    delay(r, ts, b'{"class":"Wait","args":[],"queue":"q"}')
    sched = spawn_scheduler("--scheduler-interval", "0.2", "--lock-timeout", "7")
    wait_until(lambda: "standby" in sched.log, message="the standby log line")
    time.sleep(1.0)  # five ticks: a standby moves nothing and leaves the lock alone
    assert r.llen("resque:queue:q") == 0
    assert r.get(LOCK) == b"ruby-host:4242" and r.ttl(LOCK) <= 100
    assert "ruby-host:4242" in sched.log
    r.delete(LOCK)  # the Ruby scheduler exits (its release is a DEL)
    assert r.blpop(["resque:queue:q"], timeout=5)
    assert r.get(LOCK) == sched.lock_value
    assert 6 <= r.ttl(LOCK) <= 7
    with open("/proc/%d/cmdline" % sched.pid, "rb") as fh:
        assert b"master" in fh.read()
    sched.signal(signal.SIGTERM)
    assert sched.wait() == 0
    assert not r.exists(LOCK), "a clean exit releases the lock"
    assert "released the master lock" in sched.log


def test_release_never_deletes_anothers_lock(r, spawn_scheduler):
    r.set(LOCK, "ruby-host:4242", ex=100)
    sched = spawn_scheduler(*FAST)
    wait_until(lambda: "standby" in sched.log, message="standby")
    sched.signal(signal.SIGTERM)
    assert sched.wait() == 0
    assert r.get(LOCK) == b"ruby-host:4242"


@pytest.mark.parametrize("shift", [3600, -3600])
def test_skewed_host_clock_moves_nothing_early_nor_late(r, spawn_scheduler, shift):
    spawn_scheduler("-r", "clockskew", *FAST, env={"FORKQ_TEST_CLOCK_SHIFT": str(shift)})
    pushed = forkq.enqueue_in(2, "Skew", queue="q", connection=r)
    assert pushed.delayed
    item = r.blpop(["resque:queue:q"], timeout=10)
    arrived = redis_now(r)
    assert item is not None, "a scheduler whose clock is behind must still move it"
    assert pushed.timestamp <= arrived < pushed.timestamp + 1.5


def test_two_schedulers_move_each_job_once(r, spawn_scheduler):
    now = int(redis_now(r))
    for i in range(300):
        forkq.enqueue_at(now + 2 + i % 3, "Once", i, queue="once", connection=r)
    for _ in range(2):
        spawn_scheduler("--delayed-batch-size", "7", *FAST)
    wait_until(lambda: r.llen("resque:queue:once") >= 300 and
               not r.exists("resque:delayed_queue_schedule"), timeout=15,
               message="all 300 moved")
    time.sleep(0.5)
    got = [json.loads(x)["args"][0] for x in r.lrange("resque:queue:once", 0, -1)]
    assert sorted(got) == list(range(300))


def test_worker_with_scheduler_moves_and_performs(r, spawn_worker):
    worker = spawn_worker("-q", "sq", "--scheduler", "--scheduler-interval", "0.5",
                          "--lock-timeout", "5")
    pushed = forkq.enqueue_in(1, "Record", "later", queue="sq", connection=r)
    done = pop(r, "test:done", timeout=10)
    assert done["args"] == ["later"] and redis_now(r) >= pushed.timestamp
    assert r.get(LOCK).endswith(b":%d" % worker.pid)
    assert "is master" in worker.log
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert not r.exists(LOCK)


def test_a_move_wakes_an_idle_worker(r, spawn_scheduler, spawn_worker):
    spawn_worker("-q", "wq", "--interval", "60")  # it would poll only once a minute
    spawn_scheduler(*FAST)
    wait_until(lambda: r.smembers("resque:workers"), message="the worker")
    time.sleep(0.3)  # past its first (empty) reserve: now it waits
    pushed = forkq.enqueue_in(1, "Record", "woken", queue="wq", connection=r)
    done = pop(r, "test:done", timeout=10)
    assert done["args"] == ["woken"]
    assert redis_now(r) < pushed.timestamp + 2, "the worker slept past the move"


def test_bad_schedule_entries_are_passed_over_not_tripped_on(r, spawn_scheduler):
    now = int(redis_now(r))
    r.zadd("resque:delayed_queue_schedule", {"abc": 1})        # not a timestamp
    r.set("resque:delayed:%d" % (now - 5), "not a list")          # not a list
    r.zadd("resque:delayed_queue_schedule", {str(now - 5): now - 5})
    delay(r, now - 1, b'{"class":"Good","args":[],"queue":"q"}')
    sched = spawn_scheduler(*FAST)
    assert r.blpop(["resque:queue:q"], timeout=10)[1] == b'{"class":"Good","args":[]}'
    calls = r.info("commandstats")["cmdstat_evalsha"]["calls"]
    time.sleep(1.0)
    assert r.info("commandstats")["cmdstat_evalsha"]["calls"] - calls <= 8, "a busy loop"
    assert sched.alive() and "error" not in sched.log
    assert r.get("resque:delayed:%d" % (now - 5)) == b"not a list"  # someone else's mistake


def test_a_failing_tick_never_ends_the_worker(r, spawn_worker):
    # every tick fails (its registry write meets a list): the worker works on
    r.rpush("resque:forkq:schedulers", "a list where a hash belongs")  # HSET fails: WRONGTYPE
    worker = spawn_worker("-q", "wq", "--scheduler", "--scheduler-interval", "0.5")
    assert forkq.enqueue("Record", "still working", queue="wq", connection=r)
    assert pop(r, "test:done", timeout=10)["args"] == ["still working"]
    assert worker.alive()
    wait_until(lambda: "scheduler tick failed" in worker.log, message="the error logged")


def test_resque_schedulers_environment_names_the_lock_and_its_ttl(r, spawn_scheduler):
    sched = spawn_scheduler("--scheduler-interval", "0.2",
                            env={"RESQUE_SCHEDULER_MASTER_LOCK_PREFIX": "MyApp:",
                                 "LOCK_TIMEOUT": "6"})
    key = "resque:resque:MyApp::resque_scheduler_master_lock"
    wait_until(lambda: r.get(key) == sched.lock_value, message="the prefixed lock")
    assert 5 <= r.ttl(key) <= 6
    assert not r.exists(LOCK)
