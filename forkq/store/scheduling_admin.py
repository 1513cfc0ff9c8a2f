"""The operator's side of resque-scheduler's keys: resque-web's Delayed and Schedule tabs
(list, show, remove, clear, queue now; set_schedule / remove_schedule) and who schedules."""
import json

from forkq.store.scripts import argv, load
from forkq.store.scheduling import SchedulerStore
from forkq.wire import scheduler as wire

STALE_AFTER = 60  # a scheduler registry entry this old (Redis seconds) is a dead scheduler


class SchedulingAdmin:
    def __init__(self, redis, namespace="resque", lock_prefix=""):
        self.redis = redis
        self.keys = wire.DelayedKeys(namespace)
        self.lock_key = self.keys.master_lock(lock_prefix)
        self._remove_at = redis.register_script(load("delayed_remove_at"))

    # -- delayed jobs (resque-web's Delayed tab) ----------------------------------------------
    def timestamps(self, start=0, count=20):
        """[(ts, job count, first item)] in time order, from rank `start`."""
        return self._heads(self.redis.zrange(self.keys.schedule, start, start + count - 1))

    def delayed_page(self, start=0, count=20):
        """(timestamps on the schedule, [(ts, job count, first item)] from rank `start`): a
        page of resque-web's Delayed tab in two round trips, whatever the schedule's size."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(self.keys.schedule)
        pipe.zrange(self.keys.schedule, start, start + count - 1)
        total, members = pipe.execute()
        return total, self._heads(members)

    def _heads(self, members):
        pipe = self.redis.pipeline(transaction=False)
        stamps = []
        for member in members:
            try:
                stamps.append(int(member))
            except ValueError:  # a member someone else wrote that is not a number
                continue
            key = self.keys.prefix.encode() + b"delayed:" + member
            pipe.llen(key)
            pipe.lindex(key, 0)
        replies = pipe.execute() if stamps else []
        return [(ts, replies[2 * i], replies[2 * i + 1]) for i, ts in enumerate(stamps)]

    def timestamp_page(self, ts, start=0, count=20):
        """(jobs at `ts`, [(position, raw item)] from `start`), one LLEN and one LRANGE."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.llen(self.keys.delayed(ts))
        pipe.lrange(self.keys.delayed(ts), start, start + count - 1)
        size, raws = pipe.execute()
        return size, list(enumerate(raws, start))

    def schedule_size(self):
        return self.redis.zcard(self.keys.schedule)

    def next_due(self):
        first = self.redis.zrange(self.keys.schedule, 0, 0)
        return int(first[0]) if first else None

    def items(self, ts, start=0, count=-1):
        stop = -1 if count < 0 else start + count - 1
        return self.redis.lrange(self.keys.delayed(ts), start, stop)

    def remove_at(self, ts, item):
        """remove_delayed_job_from_timestamp: every copy of exactly `item` at `ts`."""
        return int(self._remove_at(args=argv("delayed_remove_at", ns=self.keys.prefix,
                                             ts="%d" % ts, item=item)))

    def clear(self):
        """reset_delayed_queue: every delayed:<ts>, every timestamps:<item>, the schedule.
        Returns the number of jobs dropped."""
        dropped = 0
        while True:
            members = self.redis.zrange(self.keys.schedule, 0, 99)
            if not members:
                return dropped
            for member in members:
                key = self.keys.prefix.encode() + b"delayed:" + member
                items = self.redis.lrange(key, 0, -1)
                dropped += len(items)
                pipe = self.redis.pipeline(transaction=True)
                pipe.delete(key, *{self.keys.timestamps(i) for i in items})
                pipe.zrem(self.keys.schedule, member)
                pipe.execute()

    def enqueue_now(self, ts, plan, batch=100):
        """Move every job at `ts` to its queue now, due or not (resque-web's Queue now), a
        batch per atomic step; `plan(items)` says where each goes (Mover.plan)."""
        store = SchedulerStore(self.redis, self.keys.namespace)
        moved = []
        while True:
            items = self.items(ts, 0, batch)
            moves = plan(items)
            result = store.move("", "%d" % ts, batch, moves, fence=False)
            if result.status == "moved":
                moved += moves
            if not items:
                return moved

    # -- recurring schedules (resque-web's Schedule tab; Ruby's set_schedule) ----------------
    def schedules(self):
        """{name: (raw JSON, last_enqueued_at or None)} sorted by name."""
        raws = self.redis.hgetall(self.keys.persistent_schedules)
        names = sorted(raws)
        lasts = self.redis.hmget(self.keys.last_enqueued_at, names) if names else []
        return {n: (raws[n], last) for n, last in zip(names, lasts)}

    def schedule_config(self, name):
        """The raw JSON of one persistent schedule, or None."""
        return self.redis.hget(self.keys.persistent_schedules, name)

    def set_schedules(self, configs):
        """set_schedule with persist: HSET persistent_schedules name JSON (caller's key order,
        no `persist` key), SADD schedules_changed name; all of `configs` in one MULTI."""
        pipe = self.redis.pipeline(transaction=True)
        for name, config in configs.items():
            config = {k: v for k, v in config.items() if k != "persist"}
            pipe.hset(self.keys.persistent_schedules, name, wire.encode(config))
            pipe.sadd(self.keys.schedules_changed, name)
        pipe.execute()

    def remove_schedules(self, names):
        """remove_schedule: HDEL persistent_schedules, SADD schedules_changed (Ruby leaves the
        name in delayed:last_enqueued_at, and so does this). Returns how many existed."""
        pipe = self.redis.pipeline(transaction=True)
        for name in names:
            pipe.hdel(self.keys.persistent_schedules, name)
            pipe.sadd(self.keys.schedules_changed, name)
        return sum(pipe.execute()[0::2])

    # -- who schedules ----------------------------------------------------------------------
    def overview(self, now):
        """What `forkq info` adds: the next delayed job's time, the master lock's holder and
        forkq's schedulers, each only when there is something to say."""
        out = {}
        nxt = self.next_due()
        if nxt is not None:
            out["delayed_next"] = nxt
        who = self.schedulers(now)
        if who["master"] or who["schedulers"]:
            out["scheduler_master"] = who["master"]
            out["schedulers"] = who["schedulers"]
        return out

    def schedulers(self, now):
        """The master lock's value and forkq's running schedulers (stale entries left out)."""
        holder = self.redis.get(self.lock_key)
        rows = []
        for field, raw in sorted(self.redis.hgetall(self.keys.schedulers).items()):
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(entry, dict) or now - (entry.get("heartbeat") or 0) > STALE_AFTER:
                continue
            rows.append(entry)  # its role as it last wrote it (its lock prefix may differ)
        return {"master": holder.decode("utf-8", "replace") if holder else None,
                "lock": self.lock_key, "schedulers": rows}
