"""resque-web's Overview, Working and Workers tabs from the shell: `forkq info` (with --watch
for a terminal or, with --json, a line of JSON per refresh for a script) and `forkq workers`."""
import json
import math
import sys
import time

import click

from forkq.cli.common import connection_options, emit, json_option, open_admin, table


def overview(admin):
    """What the Overview page shows: the numbers, each queue with its size (and failed as
    LLEN failed), and the workers working (sorted by run_at, as the Working tab) and idle."""
    queues = admin.queues()
    workers = admin.workers()
    data = admin.stats(queues, workers)
    data["time"] = admin.now()
    data["idle"] = data["workers"] - data["working"]
    data["queue_sizes"] = [{"queue": name, "size": size} for name, size in queues]
    data["working_jobs"] = [{"worker": w["id"], "queue": w["queue"], "class": w["job"],
                             "since": w["since"]} for w in working(workers)]
    from forkq.store.retries import pending_retries
    data["retrying"], data["retrying_jobs"] = pending_retries(admin.redis, admin.keys)
    return data


def working(rows):
    return sorted((w for w in rows if w["state"] == "working"), key=lambda w: w["since"] or "")


SUMMARY = ("pending", "processed", "failed", "queues", "workers", "working", "idle")


def render_overview(data):
    for key in SUMMARY:
        click.echo("%-10s %s" % (key, data[key]))
    if "delayed" in data:
        stamps = data["delayed_timestamps"]
        click.echo("%-10s %s (at %d timestamp%s)" % ("delayed", data["delayed"], stamps,
                                                      "" if stamps == 1 else "s"))
    if "scheduled" in data:
        click.echo("%-10s %s" % ("scheduled", data["scheduled"]))
    from forkq.cli.scheduling_view import info_lines
    info_lines(data)
    click.echo("%-10s %s on %s" % ("namespace", data["namespace"], ", ".join(data["servers"])))
    click.echo("")
    table([(q["queue"], q["size"]) for q in data["queue_sizes"]] + [("failed", data["failed"])],
          ("QUEUE", "SIZE"))
    click.echo("")
    click.echo("%d of %d workers working" % (data["working"], data["workers"]))
    table([(w["worker"], w["queue"], w["class"], w["since"]) for w in data["working_jobs"]],
          ("WORKER", "QUEUE", "CLASS", "SINCE"))
    if data.get("retrying"):
        click.echo("")
        click.echo("%d job%s waiting for a retry" % (data["retrying"],
                                                    "" if data["retrying"] == 1 else "s"))
        table([(j["class"], j["attempts"], j["last_error"] or "")
               for j in data["retrying_jobs"]], ("CLASS", "ATTEMPTS", "LAST ERROR"))


@click.command()
@click.option("--watch", type=click.FloatRange(min=0, min_open=True), default=None,
              envvar="FORKQ_WATCH", metavar="SECONDS",
              help="Refresh every SECONDS until interrupted; with --json, one compact JSON "
                   "object per line per refresh. [env: FORKQ_WATCH]")
@click.option("--count", type=click.IntRange(min=1), default=None, envvar="FORKQ_WATCH_COUNT",
              metavar="N", help="With --watch: stop after N refreshes. [env: FORKQ_WATCH_COUNT]")
@connection_options
@json_option
def info(watch, count, redis_url, namespace, as_json):
    """Overview, as resque-web's: pending, processed, failed, each queue with its size, the
    workers working (what, where, since when) and idle, and resque-scheduler's delayed jobs
    and schedules when its keys exist."""
    if count is not None and not watch:
        raise click.UsageError("--count goes with --watch")
    if watch is not None and not math.isfinite(watch):  # click's range lets NaN through
        raise click.BadParameter("must be a finite number of seconds", param_hint="--watch")
    admin = open_admin(redis_url, namespace)
    if not watch:
        return emit(overview(admin), as_json, render_overview)
    shown = 0
    try:
        while count is None or shown < count:
            if shown:
                time.sleep(watch)
            data = overview(admin)
            if as_json:
                click.echo(json.dumps(data, ensure_ascii=False, separators=(",", ":"),
                                      default=str))
            else:
                click.clear()  # nothing when stdout is not a terminal
                click.echo("%s (every %gs)" % (time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                               time.gmtime(data["time"])), watch))
                render_overview(data)
                click.echo("")
            sys.stdout.flush()
            shown += 1
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `forkq info --watch 1 --json | head -3`
        sys.stderr.close()


@click.command()
@click.option("--working", "only_working", is_flag=True, envvar="FORKQ_WORKING",
              help="Only the workers that are working, longest first (resque-web's Working "
                   "tab). [env: FORKQ_WORKING]")
@connection_options
@json_option
def workers(only_working, redis_url, namespace, as_json):
    """Workers: id, state, current job and since when, heartbeat age, started."""
    admin = open_admin(redis_url, namespace)
    everyone = admin.workers()
    rows = working(everyone) if only_working else everyone

    def render(rows):
        if not everyone:
            click.echo("no workers")
            from forkq.cli.scheduling_view import schedulers_table
            return schedulers_table(admin)
        table([(w["id"], w["host"], w["pid"], ",".join(w["queues"]), w["state"],
                ("%s on %s since %s" % (w["job"], w["queue"], w["since"])) if w["job"] else "",
                ("%ss" % w["heartbeat_age"]) if w["heartbeat_age"] is not None else "-",
                w["started"] or "", w["processed"], w["failed"]) for w in rows],
              ("WORKER", "HOST", "PID", "QUEUES", "STATE", "JOB", "HEARTBEAT", "STARTED",
               "PROCESSED", "FAILED"))
        working_count = sum(1 for w in everyone if w["state"] == "working")
        click.echo("%d of %d workers working" % (working_count, len(everyone)))
        from forkq.cli.scheduling_view import schedulers_table
        schedulers_table(admin)

    emit(rows, as_json, render)
