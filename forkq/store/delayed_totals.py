"""Counting resque-scheduler's delayed jobs without loading the schedule (contract §12)."""


DELAYED_BATCH = 1000  # delayed_queue_schedule members per ZRANGE call and per LLEN pipeline


def delayed_totals(redis, keys):
    """(delayed jobs, timestamps) of resque-scheduler's schedule: the LLEN of every
    delayed:<ts> a member of delayed_queue_schedule names, and how many members there are.
    Read in batches by rank, so a schedule of millions never sits in memory at once nor
    blocks Redis in one call (and, unlike ZSCAN, never counts a member twice)."""
    jobs = stamps = 0
    while True:
        batch = redis.zrange(keys.delayed_schedule, stamps, stamps + DELAYED_BATCH - 1)
        if not batch:
            return jobs, stamps
        jobs += _delayed_lengths(redis, keys, batch)
        stamps += len(batch)
        if len(batch) < DELAYED_BATCH:
            return jobs, stamps


def _delayed_lengths(redis, keys, members):
    pipe = redis.pipeline(transaction=False)
    for member in members:  # the member is the <ts> of delayed:<ts>, byte for byte
        pipe.llen(keys.prefix.encode() + b"delayed:" + member)
    return sum(pipe.execute())
