"""`forkq schedule`: recurring schedules as resque-scheduler's persistent dynamic schedules
(`persistent_schedules`, `schedules_changed`, `delayed:last_enqueued_at`; contract §12), so
Ruby's Resque.schedule, resque-web's Schedule tab and forkq see the same ones."""
import json

import click

from forkq.cli.app import cli, import_jobs
from forkq.cli.common import connection_options, emit, emit_each, json_option, open_admin, table
from forkq.wire import scheduler as wire


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _scheduling(redis_url, namespace):
    admin = open_admin(redis_url, namespace)
    from forkq.store.scheduling_admin import SchedulingAdmin
    return admin, SchedulingAdmin(admin.redis, admin.keys.prefix.rstrip(":"))


def check(name, config, default_queue=None):
    """The reason `config` cannot fire, or None (a Schedule is built as the master would)."""
    from forkq.scheduler.schedules import Schedule, ScheduleError
    try:
        schedule = Schedule(name, wire.encode(config), default_queue)
    except (ScheduleError, ValueError) as exc:
        return str(exc)
    if not schedule.queue:
        return ("schedule %s has no queue (give one, or --require the module that registers "
                "%s with a default queue)" % (name, schedule.class_name))
    return None


@cli.group()
def schedule():
    """Recurring schedules (cron or every), stored as resque-scheduler's persistent
    schedules: any master scheduler, forkq's or Ruby's with DYNAMIC_SCHEDULE, fires them."""


@schedule.command("list")
@connection_options
@json_option
def schedule_list(redis_url, namespace, as_json):
    """Every schedule: name, cron or every, class, queue, args, last fire, next fire."""
    admin, sched = _scheduling(redis_url, namespace)
    from forkq.scheduler.schedules import listing
    rows = listing(sched.schedules(), admin.now())

    def render(rows):
        if not rows:
            click.echo("no schedules")
            return
        table([(r["name"], r.get("when") or r.get("error"),
                (r["config"].get("class") or r["name"]) if isinstance(r["config"], dict) else "",
                r["config"].get("queue") if isinstance(r["config"], dict) else "",
                json.dumps(r["config"].get("args"), ensure_ascii=False)
                if isinstance(r["config"], dict) and "args" in r["config"] else "",
                r["last_enqueued_at"] or "-", r["next"] or "-") for r in rows],
              ("NAME", "WHEN", "CLASS", "QUEUE", "ARGS", "LAST", "NEXT"))
    emit(rows, as_json, render)


@schedule.command("add")
@click.argument("name")
@click.option("--cron", metavar="EXPR", envvar="FORKQ_CRON",
              help="Cron expression: 5 fields, or 6 with seconds first (rufus-scheduler's), "
                   "optionally ending in a time zone name. [env: FORKQ_CRON]")
@click.option("--every", metavar="DURATION", envvar="FORKQ_EVERY",
              help="Fixed period: 30s, 5m, 1h30m, 2d, 1w (whole seconds, at least 1). "
                   "[env: FORKQ_EVERY]")
@click.option("--class", "class_name", metavar="CLASS", envvar="FORKQ_CLASS",
              help="Job class (default: NAME). [env: FORKQ_CLASS]")
@click.option("-q", "--queue", envvar="FORKQ_QUEUE",
              help="Queue the job goes to (default: the job's own, with --require). "
                   "[env: FORKQ_QUEUE]")
@click.option("--args", "args_json", metavar="JSON", default=None, envvar="FORKQ_ARGS",
              help="The job's args as JSON: an array, or one value (a hash is passed as one "
                   "argument, as Ruby does). [env: FORKQ_ARGS]")
@click.option("--tz", metavar="ZONE", envvar="FORKQ_TZ",
              help="Time zone of --cron (IANA name, e.g. Europe/Berlin); written into the "
                   "cron line as rufus-scheduler reads it. [env: FORKQ_TZ]")
@click.option("--description", metavar="TEXT", envvar="FORKQ_DESCRIPTION",
              help="Shown by resque-web's Schedule tab. [env: FORKQ_DESCRIPTION]")
@click.option("-r", "--require", "requires", multiple=True, envvar="FORKQ_REQUIRE",
              help="Import these modules first, for the job's default queue. "
                   "[env: FORKQ_REQUIRE]")
@connection_options
@json_option
def schedule_add(name, cron, every, class_name, queue, args_json, tz, description, requires,
                 redis_url, namespace, as_json):
    """Add or replace the schedule NAME (Ruby's set_schedule with persist: true)."""
    import_jobs(requires)
    if bool(cron) == bool(every):
        raise click.UsageError("give exactly one of --cron and --every")
    if tz and not cron:
        raise click.UsageError("--tz goes with --cron")
    config = {"class": class_name or name}
    if cron:
        config["cron"] = "%s %s" % (cron, tz) if tz else cron
    else:
        config["every"] = every
    from forkq.cli.scheduler import default_queue
    config["queue"] = queue or default_queue(config["class"])
    if not config["queue"]:
        del config["queue"]
    if args_json is not None:
        try:
            config["args"] = json.loads(args_json)
        except ValueError as exc:
            raise click.UsageError("--args is not JSON: %s" % exc)
    if description:
        config["description"] = description
    why = check(name, config)
    if why:
        raise click.UsageError(why)
    _admin, sched = _scheduling(redis_url, namespace)
    sched.set_schedules({name: config})
    emit({"name": name, "config": config}, as_json, lambda d: click.echo(
        "schedule %s: %s" % (name, wire.encode(config))))


@schedule.command("remove")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@connection_options
@json_option
def schedule_remove(names, redis_url, namespace, as_json):
    """Remove schedules (Ruby's remove_schedule). Exit 1 if one did not exist."""
    _admin, sched = _scheduling(redis_url, namespace)
    rows = []
    for name in names:
        row = {"name": name, "removed": bool(sched.remove_schedules([name]))}
        if not row["removed"]:
            row["error"] = "no such schedule"
        rows.append(row)
    emit_each(rows, as_json, lambda r: "removed %s" % r["name"] if r["removed"]
              else "%s: %s" % (r["name"], r["error"]))


@schedule.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, envvar="FORKQ_REPLACE",
              help="Also remove the schedules the file does not name. [env: FORKQ_REPLACE]")
@click.option("-r", "--require", "requires", multiple=True, envvar="FORKQ_REQUIRE",
              help="Import these modules first, for the jobs' default queues. "
                   "[env: FORKQ_REQUIRE]")
@connection_options
@json_option
def schedule_load(path, replace, requires, redis_url, namespace, as_json):
    """Add every schedule of a resque-scheduler schedule file (YAML or JSON: a mapping of
    name to cron/every, class, queue, args, description). Nothing is written unless every
    entry can fire."""
    import_jobs(requires)
    configs = read_schedule_file(path)
    from forkq.cli.scheduler import default_queue
    problems = [why for name, config in configs.items()
                for why in [check(name, config, default_queue)] if why]
    if problems:
        raise click.UsageError("%s: nothing loaded:\n  %s" % (path, "\n  ".join(problems)))
    for name, config in configs.items():
        if not config.get("queue") and default_queue(config["class"]):
            config["queue"] = default_queue(config["class"])
    _admin, sched = _scheduling(redis_url, namespace)
    removed = []
    if replace:
        removed = [_text(n) for n in sched.schedules() if _text(n) not in configs]
        if removed:
            sched.remove_schedules(removed)
    sched.set_schedules(configs)
    emit({"loaded": sorted(configs), "removed": removed}, as_json, lambda d: click.echo(
        "loaded %d schedule(s)%s" % (len(d["loaded"]), ", removed %d" % len(removed)
                                     if removed else "")))


def read_schedule_file(path):
    """{name: config} of a schedule file, `class` defaulting to the name (Ruby's
    prepare_schedules). JSON is YAML, so one parser reads both."""
    import yaml
    with open(path, encoding="utf-8") as fh:
        try:
            data = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise click.UsageError("%s is not YAML or JSON: %s" % (path, exc))
    if not isinstance(data, dict):
        raise click.UsageError("%s: a schedule file is a mapping of name to schedule" % path)
    out = {}
    for name, config in data.items():
        if not isinstance(config, dict):
            raise click.UsageError("%s: schedule %s is not a mapping" % (path, name))
        config = dict(config)
        config.setdefault("class", str(name))
        out[str(name)] = config
    return out
