"""The operator's commands: what resque-web's Overview, Working, Failed, Queues, Workers and
Stats tabs do, from the shell. Registered on the `forkq` click group; every option is also an
environment variable, and `--json` prints what a script would read."""
import json
import os
import re
import signal
import socket
import sys

import click

from . import protocol
from .cli import _click_option, cli, import_jobs, load_config
from .config import option
from .failures import Failures
from .jobs import delayed_totals


def connection_options(fn):
    """--redis-url and --namespace, with the worker's environment variables."""
    for name in ("namespace", "redis_url"):
        fn = _click_option(option(name))(fn)
    return fn


json_option = click.option("--json", "as_json", is_flag=True, envvar="FORKQ_JSON",
                           help="Print JSON instead of a table. [env: FORKQ_JSON]")


class Admin:
    """One connection and namespace for a command."""

    def __init__(self, redis_url, namespace):
        config = load_config({"redis_url": redis_url, "namespace": namespace})
        import redis
        self.redis = redis.Redis.from_url(config.redis_url, socket_timeout=10)
        self.keys = protocol.Keys(config.namespace)
        self.failures = Failures(self.redis, self.keys)
        self.server = config.safe_redis_url

    def queues(self):
        names = sorted(q.decode("utf-8", "replace") for q in self.redis.smembers(self.keys.queues))
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.llen(self.keys.queue(name))
        return list(zip(names, pipe.execute()))

    def workers(self):
        ids = sorted(w.decode("utf-8", "replace") for w in self.redis.smembers(self.keys.workers))
        if not ids:
            return []
        claims = self.redis.mget([self.keys.worker(w) for w in ids])
        started = self.redis.mget([self.keys.started(w) for w in ids])
        beats = self.redis.hgetall(self.keys.heartbeat)
        processed = self.redis.mget([self.keys.processed_by(w) for w in ids])
        failed = self.redis.mget([self.keys.failed_by(w) for w in ids])
        now = self.now()
        out = []
        for i, wid in enumerate(ids):
            host, pid, queues = protocol.parse_worker_id(wid)
            row = {"id": wid, "host": host, "pid": pid, "queues": queues,
                   "state": "working" if claims[i] is not None else "idle",
                   "started": _text(started[i]), "processed": int(processed[i] or 0),
                   "failed": int(failed[i] or 0), "job": None, "queue": None, "since": None,
                   "heartbeat": None, "heartbeat_age": None}
            if claims[i] is not None:
                try:
                    claim = json.loads(claims[i])
                    payload = claim.get("payload") or {}
                    row.update(job=payload.get("class") if isinstance(payload, dict) else None,
                               queue=claim.get("queue"), since=claim.get("run_at"))
                except ValueError:
                    row["job"] = "(unreadable claim)"
            beat = beats.get(wid.encode())
            if beat:
                row["heartbeat"] = beat.decode("utf-8", "replace")
                at = protocol.parse_time(row["heartbeat"])
                row["heartbeat_age"] = round(now - at) if at is not None else None
            out.append(row)
        return out

    def now(self):
        secs, _micros = self.redis.time()
        return secs

    def stats(self, queues=None, workers=None):
        queues = self.queues() if queues is None else queues
        workers = self.workers() if workers is None else workers
        get = self.redis.mget([self.keys.processed, self.keys.failed_count])
        data = {
            "pending": sum(size for _name, size in queues),
            "processed": int(get[0] or 0),
            "queues": len(queues),
            "workers": len(workers),
            "working": sum(1 for w in workers if w["state"] == "working"),
            "failed": self.failures.count(),  # what resque-web shows: LLEN failed
            "failed_counter": int(get[1] or 0),
            "servers": [self.server],
            "namespace": self.keys.prefix.rstrip(":"),
        }
        data.update(self.scheduler())
        return data

    def scheduler(self):
        """resque-scheduler's numbers (contract §12), only when its keys exist: `delayed` is
        the jobs waiting (LLEN of every delayed:<ts>), `delayed_timestamps` the members of
        delayed_queue_schedule, `scheduled` the persistent recurring schedules."""
        out = {}
        if self.redis.exists(self.keys.delayed_schedule):
            jobs, stamps = delayed_totals(self.redis, self.keys)
            out.update(delayed=jobs, delayed_timestamps=stamps)
        schedules = self.keys.key("persistent_schedules")
        if self.redis.exists(schedules):
            out["scheduled"] = self.redis.hlen(schedules)
        return out


def _text(value):
    return value.decode("utf-8", "replace") if value is not None else None


def emit(data, as_json, render):
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        render(data)


def emit_each(rows, as_json, say):
    """Results of acting on several items, a line each; exit 1 when any of them failed."""
    emit(rows, as_json, lambda rows: [click.echo(say(r)) for r in rows])
    if any("error" in r for r in rows):
        sys.exit(1)


def table(rows, headers):
    """Fixed-width columns, one line per row, like resque-web's tables."""
    if not rows:
        return
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


# --- enqueue ---------------------------------------------------------------------------------

@cli.command()
@click.argument("class_name", metavar="CLASS")
@click.argument("args", nargs=-1, metavar="[ARGS_JSON]...")
@click.option("-q", "--queue", envvar="FORKQ_QUEUE",
              help="Queue to push to (default: the job's own, with --require). [env: FORKQ_QUEUE]")
@click.option("-r", "--require", "requires", multiple=True, envvar="FORKQ_REQUIRE",
              help="Import these modules first, so the job's default queue and enqueue hooks "
                   "apply. [env: FORKQ_REQUIRE]")
@connection_options
@json_option
def enqueue(class_name, args, queue, requires, redis_url, namespace, as_json):
    """Enqueue CLASS with ARGS, exactly as Ruby's Resque.enqueue does.

    Each ARG is JSON ('42', '"text"', '{"a":1}'); one that is not JSON is taken as a string."""
    import_jobs(requires)
    admin = Admin(redis_url, namespace)
    from .jobs import Producer
    values = [_json_arg(a) for a in args]
    try:
        pushed = Producer(admin.redis, admin.keys.prefix.rstrip(":")).enqueue(
            class_name, *values, queue=queue)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc))
    result = {"enqueued": bool(pushed), "class": class_name, "args": values,
              "queue": queue or _default_queue(class_name)}
    emit(result, as_json, lambda r: click.echo(
        "enqueued %s %s on %s" % (class_name, protocol.encode(values), r["queue"])
        if r["enqueued"] else "not enqueued: a before_enqueue hook said no"))


def _json_arg(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _default_queue(class_name):
    from .jobs import lookup
    spec = lookup(class_name)
    return spec.queue if spec else None


# --- prune, pause, resume --------------------------------------------------------------------

@cli.command()
@click.option("--prune-interval", type=float, default=None, envvar="FORKQ_PRUNE_INTERVAL",
              metavar="SECONDS", help="Heartbeat age that counts as dead (default 300). "
                                      "[env: FORKQ_PRUNE_INTERVAL]")
@connection_options
@json_option
def prune(prune_interval, redis_url, namespace, as_json):
    """Prune dead workers now, by the rules a starting worker uses; their jobs go to failed."""
    from . import prune as prune_mod
    from .store import Store
    config = load_config({"redis_url": redis_url, "namespace": namespace,
                          "prune_interval": prune_interval})
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
    from .prune import pid_alive
    here = socket.gethostname()
    host, pid, _queues = protocol.parse_worker_id(wid)
    if not admin.redis.sismember(admin.keys.workers, wid):
        return None, "not a registered worker (not in the workers set; see `forkq workers`)"
    if host != here or pid is None:
        return None, "not on this host (%s): run this on %s" % (here, host)
    started = protocol.parse_started(_text(admin.redis.get(admin.keys.started(wid))))
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
    @cli.command(name, help=(
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
        admin = Admin(redis_url, namespace)
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


# Registered here so that load_commands() (which imports this module) finds them too.
from . import overview, poolcmd  # noqa: E402,F401
