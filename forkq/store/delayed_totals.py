"""Counting resque-scheduler's delayed jobs without loading the schedule (contract §12)."""
from forkq.store.scripts import argv, load

DELAYED_BATCH = 2000  # delayed_queue_schedule members per script call
_COUNT = load("delayed_count")


def delayed_totals(redis, keys):
    """(delayed jobs, timestamps) of resque-scheduler's schedule: the LLEN of every
    delayed:<ts> a member of delayed_queue_schedule names, and how many members there are.
    Summed in Redis a batch of members by rank at a time (delayed_count.lua), so a schedule
    of millions never sits in memory nor blocks Redis in one call (and, unlike ZSCAN, never
    counts a member twice)."""
    jobs, stamps, _first = _count(redis, keys, "")
    return jobs, stamps


def delayed_due(redis, keys, now):
    """(jobs, timestamps, first due <ts> or None) of the timestamps due by `now`."""
    return _count(redis, keys, "%d" % now)


def _count(redis, keys, max_score):
    script = redis.register_script(_COUNT)
    jobs = stamps = 0
    first = None
    while True:
        read, found, head = script(keys=[keys.delayed_schedule],
                                   args=argv("delayed_count", ns=keys.prefix, max=max_score,
                                             start=stamps, count=DELAYED_BATCH))
        if first is None and head not in (b"", ""):
            first = float(head)
        jobs += found
        stamps += read
        if read < DELAYED_BATCH:
            return jobs, stamps, first
