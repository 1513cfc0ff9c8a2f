"""The `failed` list with resque-web's semantics (RESQUE_CONTRACT.md §9.3).

Indices are absolute LINDEX positions (0 = oldest), as resque-web's links are. Retry adds
`retried_at` in place and re-creates the job with only class and args (Job.create: SADD queues +
RPUSH, no enqueue hooks); Remove sets the entry to the empty-string sentinel and LREMs one of it;
Clear is DEL; Clear Retried removes every entry with a `retried_at`.
"""
import json
import time

from . import protocol


class FailedEntry:
    __slots__ = ("index", "raw", "data")

    def __init__(self, index, raw):
        self.index = index
        self.raw = raw
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        self.data = data if isinstance(data, dict) else {}

    @property
    def payload(self):
        payload = self.data.get("payload")
        return payload if isinstance(payload, dict) else {}

    @property
    def class_name(self):
        name = self.payload.get("class")
        return name if isinstance(name, str) else None

    @property
    def queue(self):
        return self.data.get("queue")

    def as_dict(self):
        return dict(self.data, index=self.index)


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
        """resque-web's Retry. Returns the queue the job went to."""
        entry = self.get(index)
        if not entry.class_name:
            raise ValueError("failed entry %d has no job class to retry (payload: %s)"
                             % (index, protocol.display_text(entry.raw, 200)))
        item = dict(entry.data)
        item["retried_at"] = protocol.failed_at(time.time())
        self.redis.lset(self.keys.failed, index, protocol.encode(item))
        queue = requeue_to or entry.queue
        args = entry.payload.get("args") or []
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(self.keys.queues, queue)
        pipe.rpush(self.keys.queue(queue), protocol.job_payload(entry.class_name, args))
        pipe.execute()
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
