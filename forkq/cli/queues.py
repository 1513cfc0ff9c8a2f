"""resque-web's Queues and Stats tabs from the shell: the queues and the jobs waiting in one,
removing a queue, Resque's numbers, Redis's INFO, and every key of the namespace with what it
holds."""
import json

import click

from forkq.cli.common import connection_options, emit, json_option, open_admin, table

PAGE = 20  # resque-web's page size


def _paging(fn):
    fn = click.option("--count", type=click.IntRange(min=1), default=PAGE, metavar="N",
                      envvar="FORKQ_COUNT",
                      help="How many to show (resque-web's page is 20). [env: FORKQ_COUNT]")(fn)
    fn = click.option("--start", type=click.IntRange(min=0), default=0, metavar="N",
                      envvar="FORKQ_START",
                      help="First position to show (0 = the first). [env: FORKQ_START]")(fn)
    return fn


def _compact(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- queues ------------------------------------------------------------------------------------

@click.group(invoke_without_command=True)
@connection_options
@json_option
@click.pass_context
def queues(ctx, redis_url, namespace, as_json):
    """Queues and their sizes (and the failed list), as resque-web's Queues tab. `show` lists
    the jobs waiting in one queue; `remove` deletes a queue."""
    if ctx.invoked_subcommand is not None:
        return
    admin = open_admin(redis_url, namespace)
    rows = [{"queue": name, "size": size} for name, size in admin.queues()]
    failed = admin.failures.count()
    emit({"queues": rows, "failed": failed}, as_json, lambda data: (
        table([(r["queue"], r["size"]) for r in rows] + [("failed", failed)],
              ("QUEUE", "SIZE"))))


@queues.command("show")
@click.argument("queue")
@_paging
@connection_options
@json_option
def queues_show(queue, start, count, redis_url, namespace, as_json):
    """The jobs waiting in QUEUE, the next to run first (resque-web's page of a queue)."""
    size, raws = open_admin(redis_url, namespace).queue_page(queue, start, count)
    jobs = []
    for position, raw in raws:
        job = {"position": position}
        try:
            job["payload"] = json.loads(raw)
        except ValueError:
            job["payload"] = None
            job["raw"] = raw.decode("utf-8", "replace")
        jobs.append(job)

    def render(data):
        if not jobs:
            click.echo("no jobs in %s at %d (it holds %d)" % (queue, start, size)
                       if size else "there are no pending jobs in %s" % queue)
            return
        click.echo("pending jobs on %s: %d to %d of %d" % (queue, start, jobs[-1]["position"],
                                                           size))
        rows = []
        for job in jobs:
            payload = job["payload"]
            if isinstance(payload, dict):
                rows.append((job["position"], payload.get("class"),
                             _compact(payload.get("args"))))
            else:
                rows.append((job["position"], "(not a job)", job.get("raw") or
                             _compact(payload)))
        table(rows, ("POSITION", "CLASS", "ARGS"))

    emit({"queue": queue, "size": size, "start": start, "jobs": jobs}, as_json, render)


@queues.command("remove")
@click.argument("queue")
@click.option("--yes", is_flag=True, envvar="FORKQ_YES",
              help="Do not ask before removing. [env: FORKQ_YES]")
@connection_options
@json_option
def queues_remove(queue, yes, redis_url, namespace, as_json):
    """Remove QUEUE and every job waiting in it, as resque-web's Remove Queue does
    (Resque.remove_queue): the name leaves `queues` and the list is deleted, in one step."""
    admin = open_admin(redis_url, namespace)
    if not yes:
        click.confirm("Remove queue %s and the %d jobs in it?"
                      % (queue, admin.redis.llen(admin.keys.queue(queue))), abort=True)
    jobs, known = admin.remove_queue(queue)
    emit({"removed": queue, "jobs": jobs, "was_registered": bool(known)}, as_json,
         lambda d: click.echo("removed queue %s (%d jobs)" % (queue, jobs)
                              if known or jobs else "no queue %s" % queue))


# --- stats -------------------------------------------------------------------------------------

@click.command()
@click.argument("section", type=click.Choice(["resque", "redis", "keys"]), default="resque",
                metavar="[SECTION]")
@click.option("--key", metavar="KEY", envvar="FORKQ_KEY",
              help="Show what one key holds, named without the namespace as resque-web names "
                   "it (queue:default, failed, workers). [env: FORKQ_KEY]")
@_paging
@connection_options
@json_option
def stats(section, key, start, count, redis_url, namespace, as_json):
    """Resque's numbers, Redis's INFO, or every key of the namespace, as resque-web's Stats
    tab shows them.

    SECTION is resque (the default: pending, processed, failed, queues, workers...), redis (the
    server's INFO) or keys (every key of the namespace with its type and size); --key KEY shows
    what one key holds, a page at a time."""
    admin = open_admin(redis_url, namespace)
    if key is not None:
        return _show_key(admin, key, start, count, as_json)
    if section == "resque":
        data = admin.stats()
        emit(data, as_json, lambda d: [click.echo("%-16s %s" % (
            name, ", ".join(value) if isinstance(value, list) else value))
            for name, value in sorted(d.items())])
    elif section == "redis":
        data = admin.redis_info()
        emit(data, as_json, lambda d: [click.echo("%-32s %s" % (name, ",".join(
            "%s=%s" % kv for kv in value.items()) if isinstance(value, dict) else value))
            for name, value in sorted(d.items())])
    else:
        rows = admin.namespace_keys()
        emit(rows, as_json, lambda rows: table(
            [(r["key"], r["type"], r["size"]) for r in rows], ("KEY", "TYPE", "SIZE"))
            if rows else click.echo("no keys under %s" % admin.keys.prefix))


def _show_key(admin, key, start, count, as_json):
    try:
        shown = admin.key_page(key, start, count)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    if shown is None:
        raise click.ClickException("no key %s under %s" % (key, admin.keys.prefix))
    kind, size, values = shown["type"], shown["size"], shown["values"]

    def render(data):
        click.echo("%s (%s, size %s)" % (key, kind, size))
        for position, value in enumerate(values, 0 if kind == "string" else start):
            text = value if isinstance(value, str) else _compact(value)
            click.echo(text if kind == "string" else "%5d  %s" % (position, text))

    emit(shown, as_json, render)
