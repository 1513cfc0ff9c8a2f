"""`forkq delayed`: resque-web's Delayed tab from the shell (resque-scheduler's keys, §12):
list the timestamps, show one, remove a job, clear everything, queue a timestamp now."""
import json
import time

import click

from forkq.cli.app import cli, import_jobs
from forkq.cli.common import connection_options, emit, emit_each, json_option, open_admin, table
from forkq.wire import scheduler as wire


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _when(ts):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _item(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return _text(raw)


def _scheduling(redis_url, namespace):
    admin = open_admin(redis_url, namespace)
    from forkq.store.scheduling_admin import SchedulingAdmin
    return admin, SchedulingAdmin(admin.redis, admin.keys.prefix.rstrip(":"))


def _json_arg(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def enqueue_later(admin, class_name, values, queue, at, delay, as_json):
    """`forkq enqueue --at TIME / --in SECONDS`: forkq.enqueue_at / enqueue_in."""
    from forkq.api import delayed as api
    if at is not None and delay is not None:
        raise click.UsageError("give --at or --in, not both")
    try:
        if at is not None:
            pushed = api.enqueue_at(wire.parse_at(at), class_name, *values, queue=queue,
                                    connection=admin.redis, namespace=admin.keys.prefix.rstrip(":"))
        else:
            pushed = api.enqueue_in(delay, class_name, *values, queue=queue,
                                    connection=admin.redis, namespace=admin.keys.prefix.rstrip(":"))
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc))
    from forkq.api.registry import lookup
    spec = lookup(class_name)
    result = {"enqueued": True, "class": class_name, "args": values,
              "queue": queue or (spec.queue if spec else None),
              "timestamp": pushed.timestamp, "at": _when(pushed.timestamp),
              "delayed": pushed.delayed}
    emit(result, as_json, lambda r: click.echo(
        "delayed %s %s on %s until %s (%d)" % (class_name, wire.encode(values), r["queue"],
                                               r["at"], r["timestamp"]) if r["delayed"] else
        "enqueued %s %s on %s (its time has come)" % (class_name, wire.encode(values),
                                                      r["queue"])))


@cli.group()
def delayed():
    """Delayed jobs (resque-scheduler's delayed_queue_schedule and delayed:<ts>), as
    resque-web's Delayed tab: `list` the timestamps, `show` one, `remove` a job, `clear` all,
    `enqueue-now` a timestamp's jobs."""


@delayed.command("list")
@click.option("--start", type=click.IntRange(min=0), default=0, metavar="N", envvar="FORKQ_START",
              help="First timestamp to show (0 = the soonest). [env: FORKQ_START]")
@click.option("--count", type=click.IntRange(min=1), default=20, metavar="N", envvar="FORKQ_COUNT",
              help="How many timestamps (resque-web's page is 20). [env: FORKQ_COUNT]")
@connection_options
@json_option
def delayed_list(start, count, redis_url, namespace, as_json):
    """Timestamps soonest first, each with its job count and, when it holds one job, the
    job's class and args (as resque-web shows them)."""
    admin, sched = _scheduling(redis_url, namespace)
    rows = []
    for ts, size, first in sched.timestamps(start, count):
        job = _item(first) if first is not None and size == 1 else None
        rows.append({"timestamp": ts, "at": _when(ts), "jobs": size,
                     "class": job.get("class") if isinstance(job, dict) else None,
                     "args": job.get("args") if isinstance(job, dict) else None})
    data = {"timestamps": sched.schedule_size(), "start": start, "rows": rows,
            "now": admin.now()}

    def render(data):
        click.echo("%d timestamp(s); Redis time %s" % (data["timestamps"], _when(data["now"])))
        table([(r["timestamp"], r["at"], r["jobs"], r["class"] or "",
                json.dumps(r["args"], ensure_ascii=False) if r["args"] is not None else "")
               for r in rows], ("TIMESTAMP", "AT", "JOBS", "CLASS", "ARGS"))
    emit(data, as_json, render)


@delayed.command("show")
@click.argument("timestamp", type=int)
@connection_options
@json_option
def delayed_show(timestamp, redis_url, namespace, as_json):
    """The jobs due at TIMESTAMP (epoch seconds), in the order they will be queued."""
    _admin, sched = _scheduling(redis_url, namespace)
    items = [_item(raw) for raw in sched.items(timestamp)]
    emit({"timestamp": timestamp, "at": _when(timestamp), "jobs": items}, as_json,
         lambda d: [click.echo(json.dumps(i, ensure_ascii=False) if not isinstance(i, str)
                               else i) for i in d["jobs"]] or click.echo("no jobs at %d"
                                                                        % timestamp))


@delayed.command("remove")
@click.argument("class_name", metavar="CLASS")
@click.argument("args", nargs=-1, metavar="[ARGS_JSON]...")
@click.option("-q", "--queue", envvar="FORKQ_QUEUE",
              help="The job's queue (default: its registered one, with --require), part of "
                   "what is matched, as in Ruby. [env: FORKQ_QUEUE]")
@click.option("--at", "timestamp", type=int, default=None, metavar="TIMESTAMP",
              envvar="FORKQ_AT",
              help="Only the copy due at this epoch second (resque-web's cancel); default: "
                   "every copy (Ruby's remove_delayed). [env: FORKQ_AT]")
@click.option("-r", "--require", "requires", multiple=True, envvar="FORKQ_REQUIRE",
              help="Import these modules first, for the job's default queue. "
                   "[env: FORKQ_REQUIRE]")
@connection_options
@json_option
def delayed_remove(class_name, args, queue, timestamp, requires, redis_url, namespace,
                   as_json):
    """Remove exactly the delayed job CLASS ARGS (the same class, args and queue, matched
    byte for byte as Ruby does). Exit 1 if none matched."""
    import_jobs(requires)
    admin, sched = _scheduling(redis_url, namespace)
    if not queue:
        from forkq.api.registry import lookup
        spec = lookup(class_name)
        queue = spec.queue if spec else None
    if not queue:
        raise click.UsageError("give --queue (or --require the job's module): the queue is "
                               "part of the delayed item Ruby matches")
    values = [_json_arg(a) for a in args]
    item = wire.delayed_item(class_name, values, queue)
    if timestamp is not None:
        removed = sched.remove_at(timestamp, item)
    else:
        from forkq.store.delayed import Delayed
        removed = Delayed(admin.redis, sched.keys.namespace).remove(class_name, values, queue)
    row = {"class": class_name, "args": values, "queue": queue, "removed": removed}
    if not removed:
        row["error"] = "no such delayed job"
    emit_each([row], as_json, lambda r: "removed %d delayed %s %s on %s" % (
        r["removed"], class_name, wire.encode(values), queue) if r["removed"] else
        "%s %s on %s: %s" % (class_name, wire.encode(values), queue, r["error"]))


@delayed.command("clear")
@click.option("--yes", is_flag=True, envvar="FORKQ_YES",
              help="Do it (without this, nothing is removed). [env: FORKQ_YES]")
@connection_options
@json_option
def delayed_clear(yes, redis_url, namespace, as_json):
    """Drop every delayed job (resque-web's Clear Delayed Jobs: reset_delayed_queue)."""
    if not yes:
        raise click.UsageError("this drops every delayed job: add --yes")
    _admin, sched = _scheduling(redis_url, namespace)
    dropped = sched.clear()
    emit({"cleared": dropped}, as_json, lambda d: click.echo("dropped %d delayed job(s)"
                                                             % d["cleared"]))


@delayed.command("enqueue-now")
@click.argument("timestamps", nargs=-1, type=int, required=True, metavar="TIMESTAMP...")
@click.option("-r", "--require", "requires", multiple=True, envvar="FORKQ_REQUIRE",
              help="Import these modules first, for the default queue of items without one. "
                   "[env: FORKQ_REQUIRE]")
@connection_options
@json_option
def delayed_enqueue_now(timestamps, requires, redis_url, namespace, as_json):
    """Queue every job due at each TIMESTAMP now (resque-web's Queue now), with the
    scheduler's own atomic move: an item with no queue goes to failed, never dropped."""
    import_jobs(requires)
    admin, sched = _scheduling(redis_url, namespace)
    from forkq.cli.scheduler import default_queue
    from forkq.scheduler.mover import queue_now
    rows = queue_now(sched, timestamps, admin.now(), default_queue)
    emit_each(rows, as_json, lambda r: "%d: queued %d job(s)%s" % (
        r["timestamp"], r["queued"], ", %d to failed (no queue)" % r["failed"]
        if r["failed"] else ""))

