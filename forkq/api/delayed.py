"""Delayed jobs, as resque-scheduler's enqueue_at / enqueue_in write them (contract §12), so a
Ruby resque-scheduler, node-resque's scheduler or `forkq scheduler` moves them when due.

    forkq.enqueue_at(datetime(2027, 1, 1, tzinfo=timezone.utc), "Mailers::Signup", 42)
    forkq.enqueue_in(30, signup, 42, queue="mail")

A time now or past (by Redis's clock) goes straight to the queue, as in Ruby.
"""
from forkq.api import registry
from forkq.api.enqueue import _producer
from forkq.errors import NoQueueError
from forkq.store.delayed import Delayed, Pushed
from forkq.wire import scheduler as wire


def _delayed(producer):
    # One Delayed (its scripts registered once) per producer connection.
    found = getattr(producer, "_forkq_delayed", None)
    if found is None:
        found = Delayed(producer.redis, producer.keys.prefix[:-1] if producer.keys.prefix
                        else "", producer.keys.wake_channel())
        producer._forkq_delayed = found
    return found


def _job(job_or_name, queue, need_queue=True):
    name = registry.name_of(job_or_name)
    spec = registry.lookup(name)
    queue = queue or (spec.queue if spec else None)
    if need_queue and not queue:
        raise NoQueueError("Jobs must be placed onto a queue: pass queue= or give %r a "
                           "default queue" % name)
    return name, queue


def _schedule(producer, job_or_name, args, queue, at=None, delay=None):
    """resque-scheduler's enqueue_at_with_queue: before_schedule hooks (a False cancels),
    the push (or, for a time now or past, Resque.enqueue with its enqueue hooks), then
    after_schedule hooks. Returns Pushed, or False when a hook cancelled."""
    name, queue = _job(job_or_name, queue)
    spec = registry.lookup(name)
    hooks = spec.hooks if spec else {}
    if any(hook(*args) is False for hook in list(hooks.get("before_schedule", ()))):
        return False
    delayed = _delayed(producer)
    if hooks.get("before_enqueue") or hooks.get("after_enqueue"):
        # Ruby runs a due job through Resque.enqueue_to, hooks and all: that needs to know
        # "due" before pushing, at the cost of one TIME (only for jobs with such hooks)
        secs, micros = delayed.redis.time()
        ts = at if at is not None else int(secs + micros / 1e6 + delay)
        if ts <= secs:
            if not producer.enqueue(name, *args, queue=queue):
                return False
            pushed = Pushed(int(secs), False)
        else:
            pushed = delayed.push(name, args, queue, at=ts)
    else:
        pushed = delayed.push(name, args, queue, at=at, delay=delay)
    for hook in hooks.get("after_schedule", ()):
        hook(*args)
    return pushed


def enqueue_at(when, job_or_name, *args, queue=None, connection=None, namespace=None):
    """Run a job at `when` (an aware datetime, or epoch seconds): resque-scheduler's
    delayed_push in one round trip. Returns Pushed(timestamp, delayed), or False when a
    before_schedule hook said no."""
    return _schedule(_producer(connection, namespace), job_or_name, args, queue,
                     at=wire.timestamp_of(when))


def enqueue_in(seconds, job_or_name, *args, queue=None, connection=None, namespace=None):
    """Run a job `seconds` from now, "now" being Redis's TIME (Ruby: Time.now + seconds)."""
    return _schedule(_producer(connection, namespace), job_or_name, args, queue,
                     delay=wire.delay_of(seconds))


def remove_delayed(job_or_name, *args, queue=None, connection=None, namespace=None):
    """Take every copy of exactly this job (class, args, queue: the job's default queue
    unless given, as Ruby's remove_delayed / remove_delayed_in_queue) off the schedule.
    Returns how many were removed."""
    name, queue = _job(job_or_name, queue, need_queue=False)
    return _delayed(_producer(connection, namespace)).remove(name, args, queue)


def scheduled_at(job_or_name, *args, queue=None, connection=None, namespace=None):
    """Epoch seconds exactly this job is scheduled at (Ruby's scheduled_at), ascending."""
    name, queue = _job(job_or_name, queue, need_queue=False)
    return _delayed(_producer(connection, namespace)).scheduled_at(name, args, queue)


def delayed_count(connection=None, namespace=None):
    """Delayed jobs waiting, all timestamps together."""
    return _delayed(_producer(connection, namespace)).count()
