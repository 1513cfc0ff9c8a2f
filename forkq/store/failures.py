"""The `failed` list with resque-web's semantics (RESQUE_CONTRACT.md §9.3).

Indices are absolute LINDEX positions (0 = oldest), as resque-web's links are. Retry adds
`retried_at` in place and re-creates the job with only class and args (Job.create: SADD queues +
RPUSH, no enqueue hooks); Remove sets the entry to the empty-string sentinel and LREMs one of it;
Clear is DEL; Clear Retried removes every entry with a `retried_at`.
"""
import json
import re
import time

from forkq import wire
from forkq.store import scripts


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
        return {"index": self.index, "raw": wire.display_text(self.raw)}


RETRY_ATTEMPTS = 5  # re-locations of an entry that moved before a retry reports it changed

class EntryChanged(ValueError):
    """The entry a retry was decided on is no longer in `failed` as it was read."""


class Failures:
    def __init__(self, redis, keys):
        self.redis = redis
        self.keys = keys
        self._retry_script = redis.register_script(scripts.RETRY_FAILED)
        self._remove_script = redis.register_script(scripts.REMOVE_FAILED)
        self._clear_script = redis.register_script(scripts.CLEAR_FAILED)
        self._filter_script = redis.register_script(scripts.FILTER_FAILED)

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

    def retry(self, index, requeue_to=None, expected=None):
        """resque-web's Retry. Returns the queue the job went to.

        `expected` is the raw entry the caller read and chose (from all(), say); without it,
        the entry at `index` now. Everything that can refuse (no entry, no class, no queue) is
        decided on that entry before any write; then one script marks it and pushes its job,
        but only if `index` still holds exactly that entry. Appends to `failed` never disturb
        it (unlike a WATCH, which every failing job on a busy cluster breaks). When a Remove
        shifted the list, the same entry is found again; when it is gone or was changed
        (retried, removed), EntryChanged says so and nothing is written: another entry that
        now sits at `index` is never retried in its place."""
        if expected is None:
            expected = self.get(index).raw
        entry = FailedEntry(index, expected)
        queue = self.target_queue(entry, requeue_to)
        item = dict(entry.data)
        item["retried_at"] = wire.failed_at(time.time())
        values = dict(expected=expected, retried=wire.encode(item), queue=queue,
                      payload=wire.job_payload(entry.class_name, ruby_splat(entry.args)))
        keys = [self.keys.failed, self.keys.queues, self.keys.queue(queue)]
        at = index
        for _ in range(RETRY_ATTEMPTS):
            if self._retry_script(keys=keys, args=scripts.argv("retry_failed", index=at,
                                                              **values)):
                return queue
            # Equal entries are interchangeable (a retried one no longer equals), so the first
            # occurrence is as good as any.
            at = self.redis.lpos(self.keys.failed, expected)
            if at is None:
                break
        raise EntryChanged("failed entry %d changed since it was read (removed or retried "
                           "meanwhile); not retried" % index)

    @staticmethod
    def target_queue(entry, requeue_to=None):
        if not entry.class_name:
            raise ValueError("failed entry %d has no job class to retry (payload: %s)"
                             % (entry.index, wire.display_text(entry.raw, 200)))
        queue = requeue_to or entry.queue
        if not isinstance(queue, str) or not queue:
            raise ValueError("failed entry %d has no queue: use --requeue-to" % entry.index)
        return queue

    def remove(self, index, expected=None):
        """resque-web's Remove: the empty-string sentinel, then LREM 1 of it. With `expected`
        (the raw entry the caller showed), only if `index` still holds exactly it, checked in
        the same step as the write; returns whether it was removed."""
        if expected is not None:
            return bool(self._remove_script(keys=[self.keys.failed], args=[index, expected]))
        self.get(index)
        self.redis.lset(self.keys.failed, index, "")
        self.redis.lrem(self.keys.failed, 1, "")
        return True

    def remove_many(self, indices):
        """Remove several: highest index first, so the others keep their positions."""
        for index in sorted(set(indices), reverse=True):
            self.remove(index)

    def clear(self):
        return self.redis.delete(self.keys.failed)

    def clear_through(self, count, expected):
        """Delete the oldest `count` entries if the newest of them is still `expected` (the
        raw entry a page showed at index count - 1): what the page showed goes, failures that
        arrived since stay. Returns whether anything was deleted."""
        return bool(self._clear_script(keys=[self.keys.failed], args=[count, expected]))

    def clear_retried(self):
        """Remove every entry that was retried (has retried_at), as resque-web's button."""
        removed = 0
        for entry in reversed(self.all()):
            if "retried_at" in entry.data:
                self.remove(entry.index)
                removed += 1
        return removed

    # --- a page at a time (forkq web: 100,000 entries are never read at once) ---------------

    def page(self, skip, count):
        """(total, entries newest first): `count` entries after the `skip` newest, with their
        absolute indices. LLEN and LRANGE (from the end) in one transaction, so the indices
        are those of one moment."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.llen(self.keys.failed)
        pipe.lrange(self.keys.failed, -(skip + count), -(skip + 1))
        total, raws = pipe.execute()
        first = max(0, total - skip - count)
        return total, [FailedEntry(first + i, raw) for i, raw in reversed(list(enumerate(raws)))]

    def matching(self, queue=None, class_name=None, before=None, chunk=2000,
                 oldest_first=False):
        """The entries the filters match, newest first, below index `before` (None: all),
        read CHUNK at a time with LRANGE. Acting on each as it comes is safe for removes:
        they shift only the entries above, already passed. oldest_first: from index 0 up
        instead (for retries, which shift nothing, in the order the jobs failed)."""
        wanted = _Filter(queue, class_name)
        if oldest_first:
            start = 0
            while True:
                got, read = self._chunk(wanted, start, start + chunk - 1)
                yield from got
                if read < chunk:
                    return
                start += chunk
        end = self.count() if before is None else min(before, self.count())
        while end > 0:
            start = max(0, end - chunk)
            yield from reversed(self._chunk(wanted, start, end - 1)[0])
            end = start

    def _chunk(self, wanted, start, stop):
        """(matching entries of positions start..stop in list order, how many were read).
        With plain names to look for, Redis sends only the entries that hold them."""
        if not wanted.needles:
            raws = self.redis.lrange(self.keys.failed, start, stop)
            return list(wanted.pick(range(start, start + len(raws)), raws)), len(raws)
        flat = self._filter_script(keys=[self.keys.failed], args=scripts.argv(
            "filter_failed", wanted.needles, first=start, last=stop))
        return list(wanted.pick(flat[1::2], flat[2::2])), flat[0]

    def scan(self, queue=None, class_name=None, before=None, count=20, budget=40000,
             chunk=2000):
        """A page of matching entries, newest first, below index `before`: (entries, the
        index to go on below, or None at the end of the list). It reads at most `budget`
        entries, so a filter that matches little answers in bounded time with fewer than
        `count` entries and where to look further."""
        wanted = _Filter(queue, class_name)
        end = self.count() if before is None else min(before, self.count())
        found = []
        scanned = 0
        while end > 0 and scanned < budget:
            start = max(0, end - chunk)
            for entry in reversed(self._chunk(wanted, start, end - 1)[0]):
                found.append(entry)
                if len(found) == count:
                    return found, (entry.index if entry.index > 0 else None)
            scanned += end - start
            end = start
        return found, (end if end > 0 else None)

# Names made only of these are written literally by every JSON encoder, so an entry whose
# bytes lack the name cannot match: Redis leaves it out (filter_failed.lua) and it is never
# sent nor parsed (a scan of 100,000 entries spends its time on both otherwise).
_LITERAL = re.compile(r"[A-Za-z0-9_.:-]+")


class _Filter:
    def __init__(self, queue, class_name):
        self.queue = queue
        self.class_name = class_name
        self.needles = [v.encode() for v in (queue, class_name)
                        if v is not None and _LITERAL.fullmatch(v)]

    def pick(self, indices, raws):
        """The FailedEntry of each raw (at its index) that matches, in list order."""
        for index, raw in zip(indices, raws):
            if self.needles and not all(n in raw for n in self.needles):
                continue
            entry = FailedEntry(index, raw)
            if ((self.queue is None or entry.queue == self.queue)
                    and (self.class_name is None or entry.class_name == self.class_name)):
                yield entry
