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


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


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
    admin = open_admin(redis_url, namespace)
    pipe = admin.redis.pipeline(transaction=True)
    pipe.llen(admin.keys.queue(queue))
    pipe.lrange(admin.keys.queue(queue), start, start + count - 1)
    size, raws = pipe.execute()
    jobs = []
    for position, raw in enumerate(raws, start):
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
    pipe = admin.redis.pipeline(transaction=True)
    pipe.llen(admin.keys.queue(queue))
    pipe.srem(admin.keys.queues, queue)
    pipe.delete(admin.keys.queue(queue))
    jobs, known, _deleted = pipe.execute()
    emit({"removed": queue, "jobs": jobs, "was_registered": bool(known)}, as_json,
         lambda d: click.echo("removed queue %s (%d jobs)" % (queue, jobs)
                              if known or jobs else "no queue %s" % queue))


# --- stats -------------------------------------------------------------------------------------

SIZES = {"string": "strlen", "list": "llen", "set": "scard", "zset": "zcard", "hash": "hlen",
         "stream": "xlen"}


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
        data = admin.redis.info()
        emit(data, as_json, lambda d: [click.echo("%-32s %s" % (name, ",".join(
            "%s=%s" % kv for kv in value.items()) if isinstance(value, dict) else value))
            for name, value in sorted(d.items())])
    else:
        rows = _namespace_keys(admin)
        emit(rows, as_json, lambda rows: table(
            [(r["key"], r["type"], r["size"]) for r in rows], ("KEY", "TYPE", "SIZE"))
            if rows else click.echo("no keys under %s" % admin.keys.prefix))


def _namespace_keys(admin):
    prefix = admin.keys.prefix
    names = sorted({k.decode("utf-8", "replace")
                    for k in admin.redis.scan_iter(match=admin.keys.all_pattern(), count=1000)})
    pipe = admin.redis.pipeline(transaction=False)
    for name in names:
        pipe.type(name)
    types = [_text(t) for t in pipe.execute()]
    pipe = admin.redis.pipeline(transaction=False)
    for name, kind in zip(names, types):
        if kind in SIZES:
            getattr(pipe, SIZES[kind])(name)
        else:
            pipe.exists(name)
    sizes = pipe.execute()
    return [{"key": name[len(prefix):], "type": kind, "size": size if kind in SIZES else None}
            for name, kind, size in zip(names, types, sizes)]


def _show_key(admin, key, start, count, as_json):
    name = admin.keys.key(key)
    kind = _text(admin.redis.type(name))
    end = start + count - 1
    r = admin.redis
    if kind == "none":
        raise click.ClickException("no key %s under %s" % (key, admin.keys.prefix))
    if kind == "string":
        size, values = r.strlen(name), [_text(r.get(name))]
    elif kind == "list":
        size, values = r.llen(name), [_text(v) for v in r.lrange(name, start, end)]
    elif kind == "set":
        members = sorted({_text(v) for v in r.sscan_iter(name, count=1000)})
        size, values = len(members), members[start:end + 1]
    elif kind == "zset":
        size = r.zcard(name)
        values = [[_text(m), s] for m, s in r.zrange(name, start, end, withscores=True)]
    elif kind == "hash":
        fields = sorted({_text(f): _text(v) for f, v in r.hscan_iter(name, count=1000)}.items())
        size, values = len(fields), [list(fv) for fv in fields[start:end + 1]]
    elif kind == "stream":
        entries = r.xrange(name, count=start + count)[start:]
        size = r.xlen(name)
        values = [[_text(i), {_text(k): _text(v) for k, v in f.items()}] for i, f in entries]
    else:
        raise click.ClickException("%s is a %s, which forkq does not show" % (key, kind))

    def render(data):
        click.echo("%s (%s, size %s)" % (key, kind, size))
        for position, value in enumerate(values, 0 if kind == "string" else start):
            text = value if isinstance(value, str) else _compact(value)
            click.echo(text if kind == "string" else "%5d  %s" % (position, text))

    emit({"key": key, "type": kind, "size": size, "start": start, "values": values},
         as_json, render)
