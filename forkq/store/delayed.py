"""resque-scheduler's delayed jobs (contract §12) in Redis: the write path (enqueue_at /
enqueue_in as one script, "now" from Redis TIME), removal and lookups with Ruby's matching
rules (the exact bytes of the {"class","args","queue"} item through timestamps:<item>).
"""
import collections

from forkq.store.delayed_totals import delayed_totals
from forkq.store.scripts import argv, load
from forkq.wire import Keys
from forkq.wire import scheduler as wire

Pushed = collections.namedtuple("Pushed", "timestamp delayed")
Pushed.__doc__ = """Where enqueue_at put a job: `timestamp` is the epoch second it is filed
under (for a job due now or earlier: Redis's now), `delayed` is False when it went straight
to its queue. Always true as a value."""


class Delayed:
    """The delayed-job keys of one namespace on one connection."""

    def __init__(self, redis, namespace="resque", wake_channel=None):
        self.redis = redis
        self.keys = wire.DelayedKeys(namespace)
        self.wake_channel = wake_channel if wake_channel is not None else \
            self.keys.prefix + "forkq:wake"
        self._push = redis.register_script(load("delayed_push"))
        self._remove = redis.register_script(load("delayed_remove"))

    def push(self, class_name, args, queue, at=None, delay=None):
        """delayed_push of {"class","args","queue"} at epoch second `at`, or `delay` seconds
        after Redis's now; a time now or past RPUSHes {"class","args"} to the queue instead.
        One round trip. Returns Pushed."""
        if (at is None) == (delay is None):
            raise TypeError("give exactly one of at= and delay=")
        item = wire.delayed_item(class_name, args, queue)
        payload = wire.encode({"class": class_name, "args": list(args)})
        mode, when = ("at", "%d" % at) if at is not None else ("in", repr(float(delay)))
        where, stamp, _now = self._push(args=argv(
            "delayed_push", ns=self.keys.prefix, mode=mode, when=when, item=item, queue=queue,
            payload=payload, channel=self.wake_channel))
        return Pushed(int(stamp), where == b"delayed")

    def remove(self, class_name, args, queue):
        """remove_delayed: how many copies of exactly this job were taken off the schedule."""
        return int(self._remove(args=(self.keys.prefix,
                                      wire.delayed_item(class_name, args, queue))))

    def scheduled_at(self, class_name, args, queue):
        """The epoch seconds exactly this job is scheduled at, ascending."""
        item = wire.delayed_item(class_name, args, queue)
        return wire.scheduled_at_from(self.redis.smembers(self.keys.timestamps(item)))

    def count(self):
        """Delayed jobs waiting (count_all_scheduled_jobs: the LLEN of every timestamp)."""
        return self.totals()[0]

    def totals(self):
        """(jobs, timestamps) on the schedule."""
        return delayed_totals(self.redis, Keys(self.keys.namespace))
