"""The operator's commands: what resque-web's Overview, Working, Failed, Queues, Workers and
Stats tabs do, from the shell. Registered on the `forkq` click group; every option is also an
environment variable, and `--json` prints what a script would read."""
import json
import os
import signal
import socket
import sys
import time

import click

from . import protocol
from .cli import _click_option, cli, import_jobs, load_config
from .config import option
from .failures import Failures


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

    def stats(self):
        queues = self.queues()
        workers = self.workers()
        get = self.redis.mget([self.keys.processed, self.keys.failed_count])
        return {
            "pending": sum(size for _name, size in queues),
            "processed": int(get[0] or 0),
            "queues": len(queues),
            "workers": len(workers),
            "working": sum(1 for w in workers if w["state"] == "working"),
            "failed": self.failures.count(),  # what resque-web shows: LLEN failed
            "failed_counter": int(get[1] or 0),
            "delayed": self.redis.zcard(self.keys.delayed_schedule),
            "servers": [self.server],
            "namespace": self.keys.prefix.rstrip(":"),
        }


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


# --- info, workers -----------------------------------------------------------------------

@cli.command()
@click.option("--watch", type=float, default=None, envvar="FORKQ_WATCH", metavar="SECONDS",
              help="Refresh every SECONDS until interrupted. [env: FORKQ_WATCH]")
@connection_options
@json_option
def info(watch, redis_url, namespace, as_json):
    """Overview: pending, processed, failed, queues, workers, working, delayed."""
    admin = Admin(redis_url, namespace)

    def render(stats):
        for key in ("pending", "processed", "failed", "queues", "workers", "working",
                    "delayed"):
            click.echo("%-10s %s" % (key, stats[key]))
        click.echo("%-10s %s" % ("namespace", stats["namespace"]))

    while True:
        if watch:
            click.clear()
        emit(admin.stats(), as_json, render)
        if not watch:
            return
        try:
            time.sleep(watch)
        except KeyboardInterrupt:
            return


@cli.command()
@connection_options
@json_option
def workers(redis_url, namespace, as_json):
    """Workers: id, state, current job and since when, heartbeat age, started."""
    admin = Admin(redis_url, namespace)
    rows = admin.workers()

    def render(rows):
        if not rows:
            click.echo("no workers")
            return
        table([(w["id"], w["host"], w["pid"], ",".join(w["queues"]), w["state"],
                ("%s on %s since %s" % (w["job"], w["queue"], w["since"])) if w["job"] else "",
                ("%ss" % w["heartbeat_age"]) if w["heartbeat_age"] is not None else "-",
                w["started"] or "", w["processed"], w["failed"]) for w in rows],
              ("WORKER", "HOST", "PID", "QUEUES", "STATE", "JOB", "HEARTBEAT", "STARTED",
               "PROCESSED", "FAILED"))
        working = sum(1 for w in rows if w["state"] == "working")
        click.echo("%d of %d workers working" % (working, len(rows)))

    emit(rows, as_json, render)


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


def _pause_command(name, paused):
    @cli.command(name, help=(
        "Pause workers: every worker (Ruby's too) through pause-all-workers, or one on this "
        "host with USR2." if paused else "Resume workers paused with `forkq pause`."))
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
        here = socket.gethostname()
        rows = []
        for wid in worker_ids:
            host, pid, _queues = protocol.parse_worker_id(wid)
            if host != here or pid is None:
                rows.append({"worker": wid, "error": "not on this host (%s)" % here})
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


# --- pool ------------------------------------------------------------------------------------

@cli.command(context_settings={"ignore_unknown_options": True})
@click.option("-w", "--workers", "sets", multiple=True, envvar="FORKQ_POOL_WORKERS",
              metavar="QUEUES=N", help="Run N workers on QUEUES; repeatable. "
                                       "[env: FORKQ_POOL_WORKERS]")
@click.option("-n", "--count", type=int, default=None, envvar="FORKQ_POOL_COUNT",
              help="With -q: run this many workers on those queues. [env: FORKQ_POOL_COUNT]")
@click.option("-q", "--queues", default=None, envvar="FORKQ_POOL_QUEUES", metavar="Q[,Q...]",
              help="The queue set for -n. [env: FORKQ_POOL_QUEUES]")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False),
              envvar="FORKQ_POOL_CONFIG", help="File of QUEUES = COUNT lines; HUP re-reads "
                                               "it. [env: FORKQ_POOL_CONFIG]")
@click.argument("work_args", nargs=-1, type=click.UNPROCESSED)
def pool(sets, count, queues, config_path, work_args):
    """Run several `forkq work` processes on this host and keep them running.

    Options after the pool's own (or after --) go to every worker, e.g.
    `forkq pool -n 4 -q critical,default -- --require myapp.jobs`."""
    from .pool import Pool, PoolConfigError, parse_sets, read_config
    try:
        wanted = parse_sets(sets)
        if count is not None or queues:
            if count is None or not queues:
                raise PoolConfigError("-n and -q go together: -n 4 -q critical,default")
            wanted.update(parse_sets(["%s=%d" % (queues, count)]))
        if config_path:
            wanted.update(read_config(config_path))
    except (OSError, PoolConfigError) as exc:
        raise click.UsageError(str(exc))
    if not wanted:
        raise click.UsageError("say which workers to run: -n 2 -q default, -w default=2, or -c FILE")
    sys.exit(Pool(wanted, work_args, config_path).run())
