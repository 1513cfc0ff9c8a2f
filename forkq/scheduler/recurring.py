"""The master's recurring schedules: loaded from `persistent_schedules` when it becomes master,
kept up to date from `schedules_changed` (as Ruby's DYNAMIC_SCHEDULE master does), fired when
due by Redis's clock.

Each fire is a compare-and-set on `delayed:last_enqueued_at` (forkq/store/lua/
schedule_fire.lua): the slot it records is the one the next fire counts from, so a new master
after a fail-over fires the slots the old one missed (within the catch-up window) and two
masters racing after a lock expiry fire each slot once.
"""
from forkq import wire as resque_wire
from forkq.scheduler.schedules import Schedule, ScheduleError, slots_due
from forkq.wire import scheduler as wire


class Entry:
    __slots__ = ("schedule", "last_raw", "next_slot")

    def __init__(self, schedule, last_raw, next_slot):
        self.schedule = schedule
        self.last_raw = last_raw      # delayed:last_enqueued_at as read (bytes) or None
        self.next_slot = next_slot    # epoch second of the next fire


class Recurring:
    def __init__(self, store, me, window, default_queue, log):
        self.store = store
        self.me = me
        self.window = window          # catch-up: missed fires younger than this still fire
        self.default_queue = default_queue
        self.log = log
        self.entries = {}             # name (bytes) -> Entry
        self.fired = 0

    def clear(self):
        self.entries = {}

    def load(self, now):
        """Everything from persistent_schedules (a new master; clears schedules_changed)."""
        self.entries = {}
        raws = self.store.load_schedules()
        lasts = self.store.last_enqueued(list(raws))
        for name, raw in raws.items():
            self._add(name, raw, lasts.get(name), now)
        self.log.event("schedules", "loaded %d schedule(s)" % len(self.entries))

    def apply_changes(self, count, now):
        changed = self.store.changed_schedules(count)
        lasts = self.store.last_enqueued([n for n, raw in changed.items() if raw is not None])
        for name, raw in changed.items():
            self.entries.pop(name, None)
            if raw is None:
                self.log.event("schedules", "removed schedule %s" % _text(name))
            else:
                self._add(name, raw, lasts.get(name), now)

    def _add(self, name, raw, last_raw, now):
        try:
            schedule = Schedule(_text(name), raw, self.default_queue)
        except ScheduleError as exc:
            self.log.event("error", "schedule %s is skipped: %s" % (_text(name), exc))
            return
        last = wire.parse_ruby_time(last_raw) if last_raw is not None else None
        # Never fired (or fired too long ago to catch up): count from now, as rufus does.
        base = last if last is not None and last >= now - self.window - 1 else int(now)
        self.entries[name] = Entry(schedule, last_raw, schedule.next_after(base))
        self.log.event("schedules", "schedule %s: %s" % (schedule.name, schedule.describe()),
                       next=wire.ruby_time_to_s(self.entries[name].next_slot))

    def next_due(self):
        return min((e.next_slot for e in self.entries.values()), default=None)

    def fire_due(self, now):
        """Fire every schedule that is due; False if the lock was lost meanwhile."""
        for name, entry in list(self.entries.items()):
            if entry.next_slot > now:
                continue
            count, slot = slots_due(entry.schedule, entry.next_slot, now, self.window)
            if not count:
                entry.next_slot = entry.schedule.next_after(now)
                continue
            status = self._fire(name, entry, slot, count, now)
            if status == "lost":
                return False
        return True

    def _fire(self, name, entry, slot, count, now):
        schedule = entry.schedule
        try:
            queue, payload = schedule.payload()
        except wire.Unmovable as exc:
            queue, payload, count = "", resque_wire.failure_json(
                resque_wire.failed_at(now), resque_wire.encode(
                    {"class": schedule.class_name, "args": schedule.args}),
                exc.exception, "schedule %s: %s" % (schedule.name, exc), [],
                self.me + ":scheduler", ""), 1
        new_last = wire.ruby_time_to_s(slot)
        status, _now = self.store.fire(self.me, name, schedule.raw, entry.last_raw, new_last,
                                       slot, queue, payload, count)
        if status == "fired":
            self.fired += count
            entry.last_raw = new_last.encode()
            entry.next_slot = schedule.next_after(slot)
            self.log.event("fired" if count == 1 else "schedules", "queued %s (%s)%s" % (
                schedule.class_name, schedule.name, " x%d: missed fires caught up" % count
                if count > 1 else ""), queue=queue or None)
            if not queue:
                self.log.event("failed", "schedule %s has no queue; its fire is in failed"
                               % schedule.name)
        elif status in ("raced", "changed"):
            # another master fired it, or the schedule was edited: read it again
            raw = self.store.schedule(name)
            self.entries.pop(name, None)
            if raw is not None:
                last_raw = self.store.last_enqueued([name]).get(name)
                self._add(name, raw, last_raw, now)
        return status


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
