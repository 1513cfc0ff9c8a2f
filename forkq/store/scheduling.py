"""The scheduler's Redis I/O: one script per tick (master lock + Redis TIME + what is due),
one per batch of due delayed jobs, one per recurring fire, and the release on exit.

Replies are turned into small objects here so the scheduler never sees Redis's shapes.
"""
import collections
import json

from forkq.store.scripts import argv, load
from forkq.wire import scheduler as wire

Tick = collections.namedtuple("Tick", "master now holder due earliest changed items")
Tick.__doc__ = """One tick's view: `master` (we hold the lock), `now` (Redis TIME, float),
`holder` (the lock's value), `due` (a due <ts> as bytes, or None) with its first `items`,
`earliest` (the first <ts> of the schedule, int or None) and `changed` (size of
schedules_changed; master only)."""

Moved = collections.namedtuple("Moved", "status now due earliest items")


def _int_or_none(raw):
    try:
        return int(raw) if raw not in (b"", "", None) else None
    except ValueError:  # a member someone else wrote that is not a number: never "next"
        return None


def _now(secs, usecs):
    return int(secs) + int(usecs) / 1e6


class SchedulerStore:
    def __init__(self, redis, namespace="resque", lock_prefix="", wake_channel=None):
        self.redis = redis
        self.keys = wire.DelayedKeys(namespace)
        self.lock_key = self.keys.master_lock(lock_prefix)
        self.wake_channel = wake_channel if wake_channel is not None else \
            self.keys.prefix + "forkq:wake"
        self._tick = redis.register_script(load("scheduler_tick"))
        self._move = redis.register_script(load("delayed_move"))
        self._fire = redis.register_script(load("schedule_fire"))
        self._release = redis.register_script(load("scheduler_release"))

    def tick(self, me, ttl, batch, field="", as_master="", as_standby=""):
        r = self._tick(args=argv("scheduler_tick", ns=self.keys.prefix, lock=self.lock_key,
                                 me=me, ttl=int(ttl), batch=int(batch), field=field,
                                 as_master=as_master, as_standby=as_standby))
        return Tick(r[0] == 1, _now(r[1], r[2]), r[3].decode("utf-8", "replace"),
                    r[4] or None, _int_or_none(r[5]), int(r[6]), list(r[7:]))

    def move(self, me, ts, batch, moves, fence=True):
        """Move `moves` [(item, queue, payload)] off delayed:<ts> (see delayed_move.lua)."""
        triples = [part for item, queue, payload in moves for part in (item, queue, payload)]
        r = self._move(args=argv("delayed_move", triples, ns=self.keys.prefix,
                                 lock=self.lock_key if fence else "", me=me, ts=ts,
                                 batch=int(batch), channel=self.wake_channel, n=len(moves)))
        status = r[0].decode()
        if len(r) < 4:
            return Moved(status, _now(r[1], r[2]), None, None, [])
        return Moved(status, _now(r[1], r[2]), r[3] or None, _int_or_none(r[4]), list(r[5:]))

    def fire(self, me, name, config, last, new_last, slot, queue, payload, count):
        r = self._fire(args=argv("schedule_fire", ns=self.keys.prefix, lock=self.lock_key,
                                 me=me, name=name, config=config,
                                 has_last="0" if last is None else "1", last=last or b"",
                                 new_last=new_last, slot=int(slot), queue=queue,
                                 payload=payload, count=int(count), channel=self.wake_channel))
        return r[0].decode(), _now(r[1], r[2])

    def release(self, me):
        return self._release(args=argv("scheduler_release", ns=self.keys.prefix,
                                       lock=self.lock_key, me=me, field=me)) == 1

    # -- the recurring schedules, read by a master ------------------------------------------
    def load_schedules(self):
        """Every persistent schedule {name: raw JSON}, and clear schedules_changed (a new
        master loads everything, as Ruby's load_schedule! does)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hgetall(self.keys.persistent_schedules)
        pipe.delete(self.keys.schedules_changed)
        return pipe.execute()[0]

    def changed_schedules(self, count):
        """SPOP the changed names and read their configs: {name: raw JSON or None}."""
        names = self.redis.spop(self.keys.schedules_changed, count) or []
        if not names:
            return {}
        values = self.redis.hmget(self.keys.persistent_schedules, names)
        return dict(zip(names, values))

    def schedule(self, name):
        return self.redis.hget(self.keys.persistent_schedules, name)

    def last_enqueued(self, names):
        if not names:
            return {}
        return dict(zip(names, self.redis.hmget(self.keys.last_enqueued_at, list(names))))

    def prune_registry(self, now, stale):
        """Drop forkq:schedulers entries whose heartbeat is older than `stale` seconds."""
        dead = []
        for field, raw in self.redis.hgetall(self.keys.schedulers).items():
            try:
                beat = json.loads(raw).get("heartbeat") or 0
            except (ValueError, AttributeError):
                beat = 0
            if now - beat > stale:
                dead.append(field)
        if dead:
            self.redis.hdel(self.keys.schedulers, *dead)
        return dead

    def lock_holder(self):
        return self.redis.get(self.lock_key)
