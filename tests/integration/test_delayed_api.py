"""forkq.enqueue_at / enqueue_in / remove_delayed / scheduled_at / delayed_count against a real
redis-server: exactly the keys and bytes resque-scheduler's delayed_push writes (§12)."""
import datetime
import time

import pytest

import forkq
from forkq.api import delayed

RUBY_ITEM = ('{"class":"SchedEcho","args":["\u00e9",1.5,null,12345678901234567890],'
             '"queue":"sq"}').encode()


def redis_now(r):
    secs, _us = r.time()
    return secs


def test_enqueue_at_writes_delayed_push_keys(r):
    at = redis_now(r) + 1000
    pushed = forkq.enqueue_at(at + 0.9, "SchedEcho", "é", 1.5, None, 12345678901234567890,
                              queue="sq", connection=r)
    assert pushed == (at, True) and pushed
    assert r.lrange("resque:delayed:%d" % at, 0, -1) == [RUBY_ITEM]
    assert r.smembers(b"resque:timestamps:" + RUBY_ITEM) == {b"delayed:%d" % at}
    assert r.zrange("resque:delayed_queue_schedule", 0, -1, withscores=True) == \
        [(str(at).encode(), float(at))]
    assert r.ttl("resque:delayed:%d" % at) == -1
    assert not r.exists("resque:queue:sq") and not r.exists("resque:queues")


def test_enqueue_at_aware_datetime(r):
    at = redis_now(r) + 500
    when = datetime.datetime.fromtimestamp(at, datetime.timezone(datetime.timedelta(hours=-5)))
    forkq.enqueue_at(when, "X", queue="q", connection=r)
    assert r.lrange("resque:delayed:%d" % at, 0, -1) == [b'{"class":"X","args":[],"queue":"q"}']
    with pytest.raises(ValueError):
        forkq.enqueue_at(datetime.datetime.now(), "X", queue="q", connection=r)


def test_now_or_past_goes_straight_to_the_queue(r):
    now = redis_now(r)
    for when in (now, now - 3600, 0):
        pushed = forkq.enqueue_at(when, "Now", 1, queue="q", connection=r)
        assert not pushed.delayed
    assert r.lrange("resque:queue:q", 0, -1) == [b'{"class":"Now","args":[1]}'] * 3
    assert r.smembers("resque:queues") == {b"q"}
    assert not r.exists("resque:delayed_queue_schedule")
    assert not forkq.enqueue_in(0, "Now", 2, queue="q", connection=r).delayed
    assert not forkq.enqueue_in(-5, "Now", 3, queue="q", connection=r).delayed
    assert r.llen("resque:queue:q") == 5


def test_enqueue_in_counts_from_redis_time_not_the_host_clock(r, monkeypatch):
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 86400)  # host clock a day ahead
    before = r.time()
    pushed = forkq.enqueue_in(30, "Later", queue="q", connection=r)
    after = r.time()
    low = int(before[0] + before[1] / 1e6 + 30)
    high = int(after[0] + after[1] / 1e6 + 30)
    assert low <= pushed.timestamp <= high and pushed.delayed
    assert r.lrange("resque:delayed:%d" % pushed.timestamp, 0, -1) == \
        [b'{"class":"Later","args":[],"queue":"q"}']


def test_registered_job_default_queue_and_no_queue(r):
    @forkq.job(name="Delayed::WithQueue", queue="dq")
    def with_queue(x):
        pass
    try:
        at = redis_now(r) + 100
        forkq.enqueue_at(at, with_queue, 7, connection=r)
        assert r.lrange("resque:delayed:%d" % at, 0, -1) == \
            [b'{"class":"Delayed::WithQueue","args":[7],"queue":"dq"}']
        assert forkq.scheduled_at(with_queue, 7, connection=r) == [at]
        assert forkq.remove_delayed(with_queue, 7, connection=r) == 1
        with pytest.raises(forkq.NoQueueError):
            forkq.enqueue_in(10, "NoQueueAnywhere", connection=r)
    finally:
        from forkq.api import registry
        registry.unregister("Delayed::WithQueue")


def test_remove_delayed_matches_rubys_exact_bytes(r):
    now = redis_now(r)
    # what Ruby wrote (§12 observed), at two times, and a copy under another queue
    for at in (now + 100, now + 200):
        r.rpush("resque:delayed:%d" % at, RUBY_ITEM)
        r.sadd(b"resque:timestamps:" + RUBY_ITEM, "delayed:%d" % at)
        r.zadd("resque:delayed_queue_schedule", {str(at): at})
    forkq.enqueue_at(now + 100, "SchedEcho", "é", 1.5, None, 12345678901234567890,
                     queue="other", connection=r)
    args = ("é", 1.5, None, 12345678901234567890)
    assert forkq.scheduled_at("SchedEcho", *args, queue="sq", connection=r) == \
        [now + 100, now + 200]
    assert forkq.delayed_count(connection=r) == 3
    assert forkq.remove_delayed("SchedEcho", *args[:3], queue="sq", connection=r) == 0
    assert forkq.remove_delayed("SchedEcho", *args, queue="sq", connection=r) == 2
    assert forkq.scheduled_at("SchedEcho", *args, queue="sq", connection=r) == []
    assert not r.exists(b"resque:timestamps:" + RUBY_ITEM)
    assert not r.exists("resque:delayed:%d" % (now + 200))  # emptied lists vanish
    # Ruby leaves the zset alone: the scheduler drops emptied timestamps later
    assert r.zcard("resque:delayed_queue_schedule") == 2
    assert forkq.delayed_count(connection=r) == 1


def test_namespace(r):
    at = redis_now(r) + 100
    forkq.enqueue_at(at, "N", queue="q", connection=r, namespace="app")
    assert r.lrange("app:delayed:%d" % at, 0, -1) == [b'{"class":"N","args":[],"queue":"q"}']
    assert r.zscore("app:delayed_queue_schedule", str(at)) == at
    assert forkq.delayed_count(connection=r, namespace="app") == 1
    assert forkq.delayed_count(connection=r) == 0


def test_one_round_trip(redis_server):
    client = redis_server.client()
    forkq.enqueue_in(100, "Warm", queue="q", connection=client)  # loads the script
    sent = []
    real = client.execute_command
    client.execute_command = lambda *args, **kw: sent.append(args[0]) or real(*args, **kw)
    forkq.enqueue_in(100, "One", queue="q", connection=client)
    forkq.enqueue_at(0, "Two", queue="q", connection=client)
    assert sent == ["EVALSHA", "EVALSHA"]
    assert delayed.Delayed  # the module the API lives in


def test_schedule_hooks_and_a_due_job_runs_its_enqueue_hooks(r):
    calls = []

    @forkq.job(name="Delayed::Hooked", queue="hq")
    class Hooked:
        @staticmethod
        def perform(x):
            pass

        @staticmethod
        def before_schedule_check(x):
            calls.append(("before_schedule", x))
            return x != "no"

        @staticmethod
        def after_schedule_note(x):
            calls.append(("after_schedule", x))

        @staticmethod
        def before_enqueue_note(x):
            calls.append(("before_enqueue", x))

    try:
        assert forkq.enqueue_in(100, Hooked, "later", connection=r).delayed
        assert forkq.enqueue_in(100, Hooked, "no", connection=r) is False
        assert not forkq.enqueue_at(0, Hooked, "now", connection=r).delayed
        assert calls == [("before_schedule", "later"), ("after_schedule", "later"),
                         ("before_schedule", "no"),
                         ("before_schedule", "now"), ("before_enqueue", "now"),
                         ("after_schedule", "now")]
        assert r.lrange("resque:queue:hq", 0, -1) == \
            [b'{"class":"Delayed::Hooked","args":["now"]}']
        assert forkq.delayed_count(connection=r) == 1
    finally:
        from forkq.api import registry
        registry.unregister("Delayed::Hooked")
