"""Moving due delayed jobs to their queues, a batch per script (forkq/store/lua/delayed_move.lua).

Each batch is decided here (where each item goes, by resque-scheduler's rules: wire.moved_job)
and done in Redis in one atomic step that first checks the items are still the head of their
delayed:<ts> list. Anyone who moved or removed one meanwhile (another scheduler, node-resque's
LPOP, an operator) turns the batch into a no-op and the next batch is read afresh.
"""
import os
import socket
import time

from forkq import wire as resque_wire
from forkq.wire import scheduler as wire

MAX_BATCHES = 50      # per tick: the loop's other duties (signals, heartbeats) come first
MAX_SECONDS = 0.25


class Mover:
    def __init__(self, store, me, batch_size, default_queue, log):
        self.store = store
        self.me = me
        self.batch_size = batch_size
        self.default_queue = default_queue   # class name -> queue or None (the registry)
        self.log = log
        self.moved = 0                       # totals since start, for logs and the bench
        self.failed = 0

    def plan(self, items, now):
        """[(item, queue, payload)]: a queue and its fresh payload, or '' and a failed entry."""
        moves = []
        for raw in items:
            try:
                queue, payload = wire.moved_job(raw, self.default_queue)
            except wire.Unmovable as exc:
                moves.append((raw, "", self.failure(raw, exc, now)))
                continue
            moves.append((raw, queue, payload))
        return moves

    def failure(self, raw, exc, now):
        try:
            resque_wire.decode_payload(raw)
            is_json = True
        except ValueError:
            is_json = False
        return resque_wire.failure_json(
            resque_wire.failed_at(now), raw, exc.exception, str(exc), [],
            self.me + ":scheduler", "", payload_is_json=is_json)

    def drain(self, due, items, now):
        """Move what is due, starting with `due` (a <ts>) and its first `items`. Returns
        (more: something is still due, earliest <ts> or None, Redis now, lost: the lock
        went to someone else)."""
        started = time.monotonic()
        earliest = None
        for _ in range(MAX_BATCHES):
            moves = self.plan(items, now)
            result = self.store.move(self.me, due, self.batch_size, moves)
            now = result.now
            if result.status == "lost":
                return False, None, now, True
            if result.status == "moved":
                for item, queue, _payload in moves:
                    if queue:
                        self.moved += 1
                    else:
                        self.failed += 1
                        self.log.event("failed", "delayed job could not be queued; it is in "
                                       "failed", timestamp=_text(due), item=_text(item)[:200])
                if moves:
                    self.log.event("moved", "queued %d delayed job(s)" % sum(
                        1 for m in moves if m[1]), timestamp=_text(due))
            elif result.status == "changed":
                self.log.event("raced", "delayed:%s changed while moving; read again"
                               % _text(due))
            earliest = result.earliest
            if result.due is None or result.status == "early":
                return False, earliest, now, False
            due, items = result.due, result.items
            if time.monotonic() - started > MAX_SECONDS:
                break
        return True, earliest, now, False


def queue_now(sched, timestamps, now, default_queue=None):
    """resque-web's Queue now for each of `timestamps` (`forkq delayed enqueue-now`, the
    dashboard's button): every job at it goes to its queue at once, due or not, by the
    scheduler's own atomic move; an item with no queue goes to failed, never dropped.
    `sched` is a SchedulingAdmin. Returns [{"timestamp", "queued", "failed"}]."""
    from forkq.log import EventLog
    mover = Mover(None, "%s:%d" % (socket.gethostname(), os.getpid()), 100, default_queue,
                  EventLog())
    rows = []
    for ts in timestamps:
        moves = sched.enqueue_now(ts, lambda items: mover.plan(items, now))
        rows.append({"timestamp": ts, "queued": sum(1 for m in moves if m[1]),
                     "failed": sum(1 for m in moves if not m[1])})
    return rows


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
