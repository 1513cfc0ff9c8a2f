"""The `failed` list with resque-web's semantics (RESQUE_CONTRACT.md §9.3).

Indices are absolute LINDEX positions (0 = oldest), as resque-web's links are. Retry adds
`retried_at` in place and re-creates the job with only class and args (Job.create: SADD queues +
RPUSH, no enqueue hooks); Remove sets the entry to the empty-string sentinel and LREMs one of it;
Clear is DEL; Clear Retried removes every entry with a `retried_at`.
"""
import json
import time


from . import protocol


def ruby_splat(args):
    """The list Ruby's `*args` makes of a payload's args, as Job.create receives them: an
    array as is, nil none, a Hash its [key, value] pairs, anything else itself alone."""
    if args is None:
        return []
    if isinstance(args, list):
        return args
    if isinstance(args, dict):
        return [[key, value] for key, value in args.items()]
    return [args]


class FailedEntry:
    __slots__ = ("index", "raw", "data", "is_object")

    def __init__(self, index, raw):
        self.index = index
        self.raw = raw
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        self.is_object = isinstance(data, dict)
        self.data = data if self.is_object else {}

    @property
    def payload(self):
        payload = self.data.get("payload")
        return payload if isinstance(payload, dict) else {}

    @property
    def class_name(self):
        name = self.payload.get("class")
        return name if isinstance(name, str) else None

    @property
    def args(self):
        return self.payload.get("args")

    @property
    def queue(self):
        return self.data.get("queue")

    def as_dict(self):
        """The entry's fields and its index; an entry that is not a JSON object keeps its text
        under "raw" (bad bytes as \\xNN), so a script sees what is there."""
        if self.is_object:
            return dict(self.data, index=self.index)
        return {"index": self.index, "raw": protocol.display_text(self.raw)}


class Failures:
    def __init__(self, redis, keys):
        self.redis = redis
        self.keys = keys

    def count(self):
        return self.redis.llen(self.keys.failed)

    def all(self, queue=None, class_name=None):
        raws = self.redis.lrange(self.keys.failed, 0, -1)
        entries = [FailedEntry(i, raw) for i, raw in enumerate(raws)]
        return [e for e in entries
                if (queue is None or e.queue == queue)
                and (class_name is None or e.class_name == class_name)]

    def get(self, index):
        raw = self.redis.lindex(self.keys.failed, index)
        if raw is None:
            raise IndexError("no failed entry at index %d (there are %d)"
                             % (index, self.count()))
        return FailedEntry(index, raw)

    def retry(self, index, requeue_to=None):
        """resque-web's Retry. Returns the queue the job went to.

        Everything that can refuse (no entry, no class, no queue) is decided before the first
        write, and the mark and the push go in one MULTI watched on `failed`: an entry is never
        marked retried without its job being pushed, nor marked in the wrong place when the
        list moved meanwhile."""
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self.keys.failed)
                    raw = pipe.lindex(self.keys.failed, index)
                    if raw is None:
                        raise IndexError("no failed entry at index %d (there are %d)"
                                         % (index, pipe.llen(self.keys.failed)))
                    entry = FailedEntry(index, raw)
                    queue = self.target_queue(entry, requeue_to)
                    item = dict(entry.data)
                    item["retried_at"] = protocol.failed_at(time.time())
                    pipe.multi()
                    pipe.lset(self.keys.failed, index, protocol.encode(item))
                    pipe.sadd(self.keys.queues, queue)
                    pipe.rpush(self.keys.queue(queue),
                               protocol.job_payload(entry.class_name, ruby_splat(entry.args)))
                    pipe.execute()
                    return queue
                except _watch_error():
                    continue

    @staticmethod
    def target_queue(entry, requeue_to=None):
        if not entry.class_name:
            raise ValueError("failed entry %d has no job class to retry (payload: %s)"
                             % (entry.index, protocol.display_text(entry.raw, 200)))
        queue = requeue_to or entry.queue
        if not isinstance(queue, str) or not queue:
            raise ValueError("failed entry %d has no queue: use --requeue-to" % entry.index)
        return queue

    def remove(self, index):
        """resque-web's Remove: the empty-string sentinel, then LREM 1 of it."""
        self.get(index)
        self.redis.lset(self.keys.failed, index, "")
        self.redis.lrem(self.keys.failed, 1, "")

    def remove_many(self, indices):
        """Remove several: highest index first, so the others keep their positions."""
        for index in sorted(set(indices), reverse=True):
            self.remove(index)

    def clear(self):
        return self.redis.delete(self.keys.failed)

    def clear_retried(self):
        """Remove every entry that was retried (has retried_at), as resque-web's button."""
        removed = 0
        for entry in reversed(self.all()):
            if "retried_at" in entry.data:
                self.remove(entry.index)
                removed += 1
        return removed


def _watch_error():
    # Imported when used: `forkq work` imports this module (every command registers at start)
    # and must not carry redis-py into the fork server it starts before loading redis-py.
    from redis.exceptions import WatchError
    return WatchError
