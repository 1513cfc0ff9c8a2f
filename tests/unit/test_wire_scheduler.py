"""Golden vectors for resque-scheduler's keys and values (contract §12), byte for byte."""
import datetime
import json

import pytest

from forkq.wire import scheduler as wire

# What Ruby's resque-scheduler 5.0 wrote (contract §12, observed)
RUBY_ITEM = ('{"class":"SchedEcho","args":["\u00e9",1.5,null,12345678901234567890],'
             '"queue":"sq"}')


def test_delayed_item_is_rubys_bytes():
    item = wire.delayed_item("SchedEcho", ["é", 1.5, None, 12345678901234567890], "sq")
    assert item == RUBY_ITEM
    assert item.encode("utf-8").count(b"\xc3\xa9") == 1  # raw UTF-8, no \u escape


def test_delayed_item_ruby_float_and_key_order():
    assert wire.delayed_item("A::B", [1e20, {"b": 1, "a": [True]}], "q") == \
        '{"class":"A::B","args":[1.0e+20,{"b":1,"a":[true]}],"queue":"q"}'
    with pytest.raises(ValueError):
        wire.delayed_item("X", [float("nan")], "q")


def test_keys():
    keys = wire.DelayedKeys("resque")
    assert keys.schedule == "resque:delayed_queue_schedule"
    assert keys.delayed(1795394977) == "resque:delayed:1795394977"
    assert keys.delayed(1795394977.9) == "resque:delayed:1795394977"
    assert keys.timestamps(RUBY_ITEM) == "resque:timestamps:" + RUBY_ITEM
    assert keys.timestamps(RUBY_ITEM.encode()) == b"resque:timestamps:" + RUBY_ITEM.encode()
    assert keys.last_enqueued_at == "resque:delayed:last_enqueued_at"
    assert keys.persistent_schedules == "resque:persistent_schedules"
    assert keys.schedules_changed == "resque:schedules_changed"
    assert wire.DelayedKeys("app").schedule == "app:delayed_queue_schedule"


def test_master_lock_key_is_namespaced_twice():
    assert wire.master_lock_key() == "resque:resque:resque_scheduler_master_lock"
    assert wire.master_lock_key("resque", "P") == "resque:resque:P:resque_scheduler_master_lock"
    assert wire.master_lock_key("resque", "MyApp:") == \
        "resque:resque:MyApp::resque_scheduler_master_lock"
    assert wire.master_lock_key("app") == "app:app:resque_scheduler_master_lock"
    assert wire.DelayedKeys().master_lock() == "resque:resque:resque_scheduler_master_lock"


def test_master_lock_value():
    assert wire.master_lock_value("localhost", 14368) == "localhost:14368"


def test_timestamp_of():
    utc = datetime.timezone.utc
    assert wire.timestamp_of(1795394977.99) == 1795394977
    assert wire.timestamp_of(1795394977) == 1795394977
    when = datetime.datetime(2026, 11, 23, 0, 49, 37, 900000, tzinfo=utc)
    assert wire.timestamp_of(when) == 1795394977
    est = datetime.timezone(datetime.timedelta(hours=-5))
    assert wire.timestamp_of(when.astimezone(est)) == 1795394977
    with pytest.raises(ValueError):
        wire.timestamp_of(datetime.datetime(2026, 11, 23))  # naive
    for bad in (True, "1795394977", None, float("inf")):
        with pytest.raises((TypeError, ValueError)):
            wire.timestamp_of(bad)
    with pytest.raises(TypeError):
        wire.delay_of("30")


def test_scheduled_at_from_members():
    assert wire.scheduled_at_from([b"delayed:20", b"delayed:10", "delayed:30"]) == [10, 20, 30]


def test_moved_job_from_ruby_and_node_items():
    assert wire.moved_job(RUBY_ITEM.encode()) == (
        "sq", '{"class":"SchedEcho","args":["\u00e9",1.5,null,12345678901234567890]}')
    node = '{"class":"Echo","queue":"nq","args":[1,"a"]}'  # node-resque's key order
    assert wire.moved_job(node) == ("nq", '{"class":"Echo","args":[1,"a"]}')
    # extras dropped; hash args wrapped; null and missing args are []; a scalar is [scalar]
    assert wire.moved_job('{"class":"H","args":{"a":1},"queue":"q","x":2}') == \
        ("q", '{"class":"H","args":[{"a":1}]}')
    assert wire.moved_job('{"class":"N","args":null,"queue":"q"}')[1] == '{"class":"N","args":[]}'
    assert wire.moved_job('{"class":"N","queue":"q"}')[1] == '{"class":"N","args":[]}'
    assert wire.moved_job('{"class":"S","args":"x","queue":"q"}')[1] == '{"class":"S","args":["x"]}'
    # a float Ruby spells differently is re-encoded as Ruby would
    assert wire.moved_job('{"class":"F","args":[1e+21],"queue":"q"}')[1] == \
        '{"class":"F","args":[1.0e+21]}'


def test_moved_job_default_queue_and_unmovable():
    item = '{"class":"PyNoQueue","args":[]}'
    assert wire.moved_job(item, {"PyNoQueue": "py"}.get) == \
        ("py", '{"class":"PyNoQueue","args":[]}')
    with pytest.raises(wire.Unmovable) as info:
        wire.moved_job(item, lambda name: None)
    assert info.value.exception == "Resque::NoQueueError"
    assert "No queue could be inferred for class PyNoQueue" in str(info.value)
    for bad in (b"not json", b"[1]", b'{"args":[]}', b'{"class":"","queue":"q"}',
                b'{"class":"X","args":[NaN],"queue":"q"}', b"\xff"):
        with pytest.raises(wire.Unmovable):
            wire.moved_job(bad)


def test_ruby_time_to_s_and_back():
    assert wire.ruby_time_to_s(1796069195) == "2026-11-30 20:06:35 +0000"
    assert wire.ruby_time_to_s(1796069195, -5 * 3600) == "2026-11-30 15:06:35 -0500"
    assert wire.parse_ruby_time("2026-11-30 20:06:35 +0000") == 1796069195
    assert wire.parse_ruby_time(b"2026-11-30 15:06:35 -0500") == 1796069195
    assert wire.parse_ruby_time("2026-11-30T20:06:35Z") == 1796069195
    assert wire.parse_ruby_time("yesterday") is None


def test_persistent_schedule_json_keeps_callers_order():
    config = {"class": "PyTick", "every": "1s", "queue": "ticks", "args": ["t"]}
    assert wire.encode(config) == '{"class":"PyTick","every":"1s","queue":"ticks","args":["t"]}'
    assert json.loads(wire.encode(config)) == config


@pytest.mark.parametrize("text,seconds", [("1s", 1), ("30s", 30), ("5m", 300), ("1h30m", 5400),
                                          ("2d", 172800), ("1w", 604800), ("1.5", 1.5),
                                          ("500ms", 0.5), (10, 10), ("1M", 2592000),
                                          ("1y", 31536000)])
def test_parse_duration(text, seconds):
    assert wire.parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "0s", "-1s", "1x", "s", "1h 30m", "every minute"])
def test_parse_duration_refuses(bad):
    with pytest.raises(ValueError):
        wire.parse_duration(bad)
