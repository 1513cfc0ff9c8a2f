"""`forkq enqueue`, `forkq prune`, `forkq pause` and `forkq resume`: the operator's actions
that are not about one tab of resque-web. Every option is also an environment variable, and
`--json` prints what a script would read."""
import json
import os
import re
import signal
import socket

import click

from forkq import wire
from forkq.cli.common import (
    click_option,
    connection_config,
    connection_options,
    emit,
    emit_each,
    import_jobs,
    json_option,
    open_admin,
)
from forkq.config import option
from forkq.store.admin import _text


@click.command()
@click.argument("class_name", metavar="CLASS")
@click.argument("args", nargs=-1, metavar="[ARGS_JSON]...")
@click.option("-q", "--queue", envvar="FORKQ_QUEUE",
              help="Queue to push to (default: the job's own, with --require). [env: FORKQ_QUEUE]")
@click.option("-r", "--require", "requires", multiple=True, envvar="FORKQ_REQUIRE",
              help="Import these modules first, so the job's default queue and enqueue hooks "
                   "apply. [env: FORKQ_REQUIRE]")
@click.option("--at", "at", metavar="TIME", default=None, envvar="FORKQ_AT",
              help="Run it at TIME (epoch seconds, or ISO 8601 with a zone: "
                   "2027-01-01T09:00:00+01:00), as resque-scheduler's enqueue_at. "
                   "[env: FORKQ_AT]")
@click.option("--in", "delay", type=float, metavar="SECONDS", default=None, envvar="FORKQ_IN",
              help="Run it SECONDS from now (Redis's clock), as enqueue_in. [env: FORKQ_IN]")
@connection_options
@json_option
def enqueue(class_name, args, queue, requires, at, delay, redis_url, namespace, as_json):
    """Enqueue CLASS with ARGS, exactly as Ruby's Resque.enqueue does (with --at or --in:
    a delayed job, as resque-scheduler's enqueue_at; see forkq-delayed(1)).

    Each ARG is JSON ('42', '"text"', '{"a":1}'); one that is not JSON is taken as a string."""
    import_jobs(requires)
    from forkq.api.registry import lookup, registered
    spec = lookup(class_name)
    if requires and spec is None:
        # with the app loaded, a name it does not register is a typo, not a Ruby job
        raise click.UsageError("%r is not a job registered by --require %s (registered: %s)"
                               % (class_name, ",".join(requires),
                                  ", ".join(registered()) or "none"))
    if not queue and not (spec and spec.queue):
        raise click.UsageError(
            "no queue for %r: give --queue QUEUE%s" % (class_name, "" if requires else
                                                       ", or --require the module that "
                                                       "registers it with a default queue"))
    admin = open_admin(redis_url, namespace)
    from forkq.api.enqueue import Producer
    values = [_json_arg(a) for a in args]
    if at is not None or delay is not None:
        from forkq.cli.delayed import enqueue_later
        return enqueue_later(admin, class_name, values, queue, at, delay, as_json)
    producer = Producer(admin.redis, admin.keys.prefix.rstrip(":"))
    pushed = producer.enqueue(class_name, *values, queue=queue)
    result = {"enqueued": bool(pushed), "class": class_name, "args": values,
              "queue": queue or spec.queue}
    if not pushed:
        result["reason"] = producer.refused or "not enqueued: a before_enqueue hook said no"
    emit(result, as_json, lambda r: click.echo(
        "enqueued %s %s on %s" % (class_name, wire.encode(values), r["queue"])
        if r["enqueued"] else r["reason"]))


def _json_arg(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


@click.command()
@click_option(option("prune_interval"))  # the worker's own option: one default
@connection_options
@json_option
def prune(prune_interval, redis_url, namespace, as_json):
    """Prune dead workers now, by the rules a starting worker uses; their jobs go to failed."""
    from forkq.store.worker_io import Store
    from forkq.worker import prune as prune_mod
    config = connection_config(redis_url, namespace, prune_interval=prune_interval)
    store = Store(config.redis_url, config.namespace)
    rows = []
    for wid, exception, reason in prune_mod.find_dead(store, socket.gethostname(), None,
                                                      config.prune_interval, store.time()):
        job_class, had_job = prune_mod.release_dead(store, wid, exception, reason)
        rows.append({"worker": wid, "reason": reason, "job": job_class if had_job else None})
    emit(rows, as_json, lambda rows: [click.echo(
        "pruned %s (%s)%s" % (r["worker"], r["reason"],
                              ", its job %s is in failed" % r["job"] if r["job"] else ""))
        for r in rows] or click.echo("no dead workers"))


TITLE = re.compile(r"resque-[0-9]")  # what Resque's own prune greps ps for


def local_worker_pid(admin, wid):
    """(pid, None) when `wid` is a registered worker running on this host as that very pid,
    else (None, why not). A signal must never reach a process that merely has the pid now:
    the id must be in `workers`, on this host, its pid alive and not started after
    worker:<id>:started (pid reuse), with a Resque process title."""
    # here, not at the top: `forkq work` imports this module (every command registers
    # at start) and its fork server must start before psutil is loaded
    import psutil

    from forkq.worker.prune import pid_alive
    here = socket.gethostname()
    host, pid, _queues = wire.parse_worker_id(wid)
    if not admin.redis.sismember(admin.keys.workers, wid):
        return None, "not a registered worker (not in the workers set; see `forkq workers`)"
    if host != here or pid is None:
        return None, "not on this host (%s): run this on %s" % (here, host)
    started = wire.parse_started(_text(admin.redis.get(admin.keys.started(wid))))
    if started is None:
        return None, ("no readable worker:%s:started, so pid %d cannot be told from a process "
                      "that reused it" % (wid, pid))
    if not pid_alive(pid, started):
        return None, ("pid %d is not running, or was reused by a process started after the "
                      "worker (`forkq prune` removes dead workers)" % pid)
    try:
        title = " ".join(psutil.Process(pid).cmdline())
    except psutil.AccessDenied:
        title = None  # then the signal is refused by the kernel anyway
    except psutil.Error:
        return None, "pid %d is not running" % pid
    if title is not None and not TITLE.search(title):
        return None, "pid %d does not look like a Resque worker (its title: %s)" % (
            pid, title[:80] or "none")
    return pid, None


def _pause_command(name, paused):
    @click.command(name, help=(
        "Pause workers: every worker (Ruby's too) through pause-all-workers, or one on this "
        "host with USR2.\n\nA --worker ID must be registered, on this host, and its pid must "
        "still be that worker (alive, not started after it registered, with a Resque title); "
        "otherwise nothing is sent and the exit status is 1." if paused else
        "Resume workers paused with `forkq pause` (pause-all-workers deleted, or CONT sent to "
        "one worker on this host, checked as for pause)."))
    @click.option("--worker", "worker_ids", multiple=True, envvar="FORKQ_WORKER",
                  metavar="ID", help="Only this worker (on this host: sent %s). "
                  "[env: FORKQ_WORKER]" % ("USR2" if paused else "CONT"))
    @connection_options
    @json_option
    def command(worker_ids, redis_url, namespace, as_json):
        admin = open_admin(redis_url, namespace)
        if not worker_ids:
            if paused:
                admin.redis.set(admin.keys.pause_all, "true")
            else:
                admin.redis.delete(admin.keys.pause_all)
            emit({"all": True, "paused": paused}, as_json, lambda d: click.echo(
                "all workers %s (pause-all-workers)" % ("paused" if paused else "resumed")))
            return
        sig = signal.SIGUSR2 if paused else signal.SIGCONT
        rows = []
        for wid in worker_ids:
            pid, refusal = local_worker_pid(admin, wid)
            if refusal:
                rows.append({"worker": wid, "error": refusal})
                continue
            try:
                os.kill(pid, sig)
                rows.append({"worker": wid, "signal": signal.Signals(sig).name})
            except OSError as exc:
                rows.append({"worker": wid, "error": str(exc)})
        emit_each(rows, as_json, lambda r: "%s: sent %s" % (r["worker"], r["signal"])
                  if "signal" in r else "%s: %s" % (r["worker"], r["error"]))

    return command


pause = _pause_command("pause", True)


resume = _pause_command("resume", False)
