"""Recurring schedules as resque-scheduler stores them: rufus-style cron lines (5 or 6 fields,
seconds first, a trailing zone, nicknames), every durations, and which fires are due."""
import calendar
import datetime
import json

import pytest

from forkq.scheduler.schedules import Schedule, ScheduleError, slots_due, split_cron


def epoch(*args):
    return calendar.timegm(datetime.datetime(*args).timetuple())


def sched(config, name="s", default_queue=None):
    return Schedule(name, json.dumps(config).encode(), default_queue)


def test_split_cron():
    assert split_cron("0 5 * * *") == ("0 5 * * *", None)
    assert split_cron("0 5 * * * America/Chicago") == ("0 5 * * *", "America/Chicago")
    assert split_cron("*/5 * * * * *") == ("*/5 * * * * *", None)       # seconds first
    assert split_cron("0 0 5 * * * UTC") == ("0 0 5 * * *", "UTC")
    assert split_cron("0 9 * * MON-FRI") == ("0 9 * * MON-FRI", None)
    assert split_cron("@daily Europe/Berlin") == ("0 0 * * *", "Europe/Berlin")
    assert split_cron("@hourly") == ("0 * * * *", None)


def test_cron_in_utc_and_with_seconds():
    s = sched({"cron": "0 3 * * *", "class": "C", "queue": "q"})
    assert s.next_after(epoch(2026, 11, 30, 2, 59, 59)) == epoch(2026, 11, 30, 3, 0, 0)
    assert s.next_after(epoch(2026, 11, 30, 3, 0, 0)) == epoch(2026, 12, 1, 3, 0, 0)
    every_second = sched({"cron": "* * * * * *", "queue": "q"})
    assert every_second.next_after(100) == 101


def test_cron_in_its_zone_across_daylight_saving():
    s = sched({"cron": "30 2 * * * America/New_York", "queue": "q"})
    # 2026-03-08: clocks jump 02:00 -> 03:00 in New York; cron fires at 03:00 EDT (07:00 UTC)
    assert s.next_after(epoch(2026, 3, 8, 5, 0)) == epoch(2026, 3, 8, 7, 0)
    # an ordinary winter day: 02:30 EST is 07:30 UTC
    assert s.next_after(epoch(2026, 1, 10, 0, 0)) == epoch(2026, 1, 10, 7, 30)
    berlin = sched({"cron": "0 3 * * * Europe/Berlin", "queue": "q"})
    assert berlin.next_after(epoch(2026, 7, 1, 0, 0)) == epoch(2026, 7, 1, 1, 0)  # CEST


def test_every_and_payload():
    s = sched({"every": "30s", "class": "Tick", "queue": "ticks", "args": {"a": 1}})
    assert s.next_after(1000) == 1030
    assert s.payload() == ("ticks", '{"class":"Tick","args":[{"a":1}]}')
    assert sched({"every": ["1m", {"first_in": "10s"}], "queue": "q"}).next_after(0) == 60
    assert sched({"every": "1h", "queue": "q"}, name="NamedJob").payload() == \
        ("q", '{"class":"NamedJob","args":[]}')
    assert sched({"every": "1h", "class": "C"}, default_queue={"C": "dq"}.get).queue == "dq"
    custom = sched({"every": "1h", "class": "C", "custom_job_class": "Custom", "queue": "q"})
    assert custom.payload()[1] == '{"class":"Custom","args":[]}'


@pytest.mark.parametrize("config", [{"queue": "q"}, {"cron": "61 * * * *"},
                                    {"cron": "0 3 * * * Mars/Olympus"}, {"every": "soon"},
                                    {"every": "0s"}])
def test_bad_schedules(config):
    with pytest.raises(ScheduleError):
        sched(config)


def test_not_json():
    with pytest.raises(ScheduleError):
        Schedule("x", b"{nope", None)


def test_slots_due_counts_missed_fires_within_the_window():
    s = sched({"cron": "* * * * * *", "queue": "q"})
    assert slots_due(s, 101, 100, 60) == (0, None)
    assert slots_due(s, 101, 101, 60) == (1, 101)
    assert slots_due(s, 101, 105, 60) == (5, 105)               # a fail-over's gap
    assert slots_due(s, 101, 1000, 60) == (61, 1000)            # older ones skipped
    assert slots_due(s, 1, 10 ** 6, 10 ** 6, cap=5) == (5, 5)   # bounded per tick
    hourly = sched({"cron": "0 * * * *", "queue": "q"})
    assert slots_due(hourly, epoch(2026, 1, 1, 1, 0), epoch(2026, 1, 1, 0, 59), 3600) == \
        (0, None)
    every = sched({"every": "30s", "queue": "q"})
    assert slots_due(every, 1030, 1100, 100) == (3, 1090)
    assert slots_due(every, 1030, 1100, 60) == (2, 1099)     # 1030 too old: a new phase


class FakeStore:
    def __init__(self, config, last=None):
        self.config, self.last, self.fired = config, last, []

    def load_schedules(self):
        return {b"s": self.config}

    def last_enqueued(self, names):
        return {b"s": self.last}

    def fire(self, me, name, config, last, new_last, slot, queue, payload, count):
        self.fired.append((slot, count, new_last))
        return "fired", slot


class Log:
    def event(self, *args, **kw):
        pass


def test_every_fires_one_period_after_it_is_first_seen_then_each_period():
    from forkq.scheduler.recurring import Recurring
    store = FakeStore(b'{"every":"1h","class":"C","queue":"q"}')
    rec = Recurring(store, "me", 240, None, Log())
    rec.load(1000.5)
    assert rec.next_due() == 4600
    assert rec.fire_due(4599) and store.fired == []
    assert rec.fire_due(4600.2) and store.fired == [(4600, 1, "1970-01-01 01:16:40 +0000")]
    assert rec.next_due() == 8200


def test_a_new_master_counts_from_last_enqueued_at():
    from forkq.scheduler.recurring import Recurring
    store = FakeStore(b'{"cron":"* * * * * *","queue":"q"}', b"1970-01-01 00:16:40 +0000")
    rec = Recurring(store, "me", 240, None, Log())
    rec.load(1004.3)                       # last fired 1000; the gap 1001..1004 is due
    assert rec.fire_due(1004.3) and store.fired == [(1004, 4, "1970-01-01 00:16:44 +0000")]
