"""A recurring schedule as resque-scheduler stores it (`persistent_schedules`: name → JSON
with `cron` or `every`, `class`, `queue`, `args`, `description`, …) and when it fires next.

Cron expressions are parsed and stepped by cronsim (PyPI): it reads rufus-scheduler's
6-field form (seconds first) as well as the classic 5 fields, and steps wall-clock time in a
zone the way cron does across daylight-saving changes. A trailing zone name, rufus's way of
giving one ("0 5 * * * America/Chicago"), picks the zone; UTC otherwise.
"""
import datetime
import json
import math
import zoneinfo

from cronsim import CronSim, CronSimError

from forkq import wire as resque_wire
from forkq.wire import scheduler as wire

_NICKNAMES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
              "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
              "@hourly": "0 * * * *"}


class ScheduleError(ValueError):
    """A schedule that cannot fire; the message says why."""


def split_cron(text):
    """(expression, zone name or None) of a rufus cron line: a last word that names a time
    zone is the zone ("0 5 * * * America/Chicago", "@daily UTC")."""
    parts = str(text).split()
    zone = None
    if len(parts) in (2, 6, 7) and _is_zone(parts[-1]):
        zone = parts.pop()
    if len(parts) == 1 and parts[0].lower() in _NICKNAMES:
        parts = _NICKNAMES[parts[0].lower()].split()
    return " ".join(parts), zone


def _is_zone(word):
    if word.upper() in ("UTC", "GMT"):
        return True
    if not word[:1].isalpha():
        return False
    try:
        zoneinfo.ZoneInfo(word)
        return True
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False


def zone_of(name):
    if not name or name.upper() in ("UTC", "GMT", "ETC/UTC"):
        return datetime.timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError("unknown time zone %r (%s)" % (name, exc)) from None


def check_cron(expression, zone=None):
    """Raise ScheduleError unless `expression` (with its optional zone) can fire."""
    expr, tz = split_cron(expression if not zone else "%s %s" % (expression, zone))
    tzinfo = zone_of(tz)
    try:
        CronSim(expr, datetime.datetime.now(tzinfo))
    except CronSimError as exc:
        raise ScheduleError("bad cron expression %r: %s" % (expression, exc)) from None
    return expr, tzinfo


class Schedule:
    """One named schedule, parsed from its raw JSON (kept as read, for compare-and-set)."""

    def __init__(self, name, raw, default_queue=None):
        self.name = name
        self.raw = raw
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            config = json.loads(text)
        except ValueError as exc:
            raise ScheduleError("schedule %s is not JSON: %s" % (name, exc)) from None
        if not isinstance(config, dict):
            raise ScheduleError("schedule %s is not a JSON object" % name)
        self.config = config
        self.kind = next((k for k in ("cron", "every") if config.get(k)), None)
        if self.kind is None:
            raise ScheduleError("schedule %s has no cron or every" % name)
        value = config[self.kind]
        if isinstance(value, list) and value:  # rufus's [value, {options}] form
            value = value[0]
        if self.kind == "cron":
            self.expr, self.zone = check_cron(value)
            self.period = None
        else:
            try:
                self.period = max(1, int(math.ceil(wire.parse_duration(value))))
            except ValueError as exc:
                raise ScheduleError("schedule %s: %s" % (name, exc)) from None
            self.expr, self.zone = None, datetime.timezone.utc
        self.class_name = config.get("class") or name
        custom = config.get("custom_job_class")
        if custom and custom != "Resque::Job":
            self.class_name = custom  # what Ruby enqueues when it cannot load the custom class
        self.queue = config.get("queue") or (default_queue(self.class_name)
                                             if default_queue else None)
        self.args = config.get("args")

    def next_after(self, epoch):
        """The first fire strictly after `epoch` (whole seconds)."""
        epoch = int(math.floor(epoch))
        if self.kind == "every":
            return epoch + self.period
        start = datetime.datetime.fromtimestamp(epoch, self.zone)
        return int(next(CronSim(self.expr, start)).timestamp())

    def payload(self):
        """(queue, {"class","args"} JSON) of one fire; raises wire.Unmovable without a queue."""
        item = {"class": self.class_name, "args": self.args}
        if self.queue:
            item["queue"] = self.queue
        return wire.moved_job(resque_wire.encode(item))

    def describe(self):
        what = self.config.get(self.kind)
        return "%s %s" % (self.kind, what if isinstance(what, str) else json.dumps(what))


def slots_due(schedule, first, now, window, cap=1000):
    """(count, last slot) of the fires due by `now`, starting with the slot `first`, skipping
    fires older than `window` seconds (a scheduler that was down for a day does not fire a
    day's worth), at most `cap`. (0, None) when nothing is due."""
    slot = first
    if slot < now - window:
        slot = schedule.next_after(now - window - 1)
    count, last = 0, None
    while slot <= now and count < cap:
        count, last = count + 1, slot
        slot = schedule.next_after(slot)
    return count, last


def listing(schedules, now):
    """What `forkq schedule list` and the dashboard's Schedules tab show of each schedule, from
    SchedulingAdmin.schedules() ({name: (raw JSON, last_enqueued_at)}) and Redis's `now`:
    [{"name", "config", "last_enqueued_at", "next" (Ruby's Time#to_s) or None, and "when"
    (cron or every, as text) or "error" (why it cannot fire)}]."""
    rows = []
    for name, (raw, last) in schedules.items():
        row = {"name": _text(name), "last_enqueued_at": _text(last), "next": None}
        try:
            config = json.loads(raw)
            row["config"] = config
            parsed = Schedule(row["name"], raw)
            # as the master counts: from the last fire (an `every` keeps its phase), or from
            # now when it never fired or that fire's successor is already past
            base = wire.parse_ruby_time(last) if last else None
            nxt = parsed.next_after(base) if base is not None else None
            if nxt is None or nxt < now:
                nxt = parsed.next_after(now)
            row["next"] = wire.ruby_time_to_s(nxt)
            row["when"] = parsed.describe()
        except (ValueError, ScheduleError) as exc:
            row.setdefault("config", _text(raw))
            row["error"] = str(exc)
        rows.append(row)
    return rows


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
