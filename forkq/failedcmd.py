"""`forkq failed`: resque-web's Failed tab from the shell, with its semantics (indices are
positions, 0 = oldest; Retry sets retried_at in place; Remove uses the empty-string sentinel)."""
import json

import click

from .admin import Admin, connection_options, emit, emit_each, json_option, table
from .cli import cli


@cli.group()
def failed():
    """The failed list, with resque-web's semantics (indices are positions, 0 = oldest)."""


def _filters(fn):
    fn = click.option("--class", "class_name", envvar="FORKQ_FAILED_CLASS",
                      help="Only entries of this job class. [env: FORKQ_FAILED_CLASS]")(fn)
    fn = click.option("--queue", envvar="FORKQ_FAILED_QUEUE",
                      help="Only entries from this queue. [env: FORKQ_FAILED_QUEUE]")(fn)
    return fn


@failed.command("list")
@_filters
@click.option("--limit", type=int, default=None, envvar="FORKQ_LIMIT",
              help="Show at most this many (newest first). [env: FORKQ_LIMIT]")
@connection_options
@json_option
def failed_list(queue, class_name, limit, redis_url, namespace, as_json):
    """Failed jobs, newest first, each with its index."""
    entries = list(reversed(Admin(redis_url, namespace).failures.all(queue, class_name)))
    if limit is not None:
        entries = entries[:limit]

    def render(entries):
        if not entries:
            click.echo("no failed jobs")
            return
        table([(e.index, e.data.get("failed_at", ""), e.queue or "", e.class_name or "?",
                e.data.get("exception", ""), _one_line(e.data.get("error", ""), 60),
                "retried " + e.data["retried_at"] if "retried_at" in e.data else "")
               for e in entries],
              ("INDEX", "FAILED AT", "QUEUE", "CLASS", "EXCEPTION", "ERROR", ""))

    emit([e.as_dict() for e in entries] if as_json else entries, as_json, render)


def _one_line(text, width):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"


@failed.command("show")
@click.argument("index", type=int)
@connection_options
@json_option
def failed_show(index, redis_url, namespace, as_json):
    """One failed job in full."""
    try:
        entry = Admin(redis_url, namespace).failures.get(index)
    except IndexError as exc:
        raise click.ClickException(str(exc))

    def render(data):
        for key in ("failed_at", "queue", "worker", "exception", "error", "retried_at"):
            if key in data:
                click.echo("%-10s %s" % (key, data[key]))
        click.echo("%-10s %s" % ("payload", json.dumps(data.get("payload"), ensure_ascii=False)))
        for line in data.get("backtrace") or []:
            click.echo("  " + str(line))

    emit(entry.as_dict(), as_json, render)


@failed.command("retry")
@click.argument("indices", type=int, nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every entry (filters apply).")
@_filters
@click.option("--requeue-to", envvar="FORKQ_REQUEUE_TO", metavar="QUEUE",
              help="Push to this queue instead of the job's own. [env: FORKQ_REQUEUE_TO]")
@connection_options
@json_option
def failed_retry(indices, retry_all, queue, class_name, requeue_to, redis_url, namespace,
                 as_json):
    """Retry entries as resque-web does: retried_at in place, the job re-created with only
    class and args."""
    failures = Admin(redis_url, namespace).failures
    if retry_all:
        indices = [e.index for e in failures.all(queue, class_name)]
    elif not indices:
        raise click.UsageError("give INDEX... or --all")
    done = []
    for index in indices:
        try:
            done.append({"index": index, "queue": failures.retry(index, requeue_to)})
        except (IndexError, ValueError) as exc:
            done.append({"index": index, "error": str(exc)})
    emit_each(done, as_json, lambda r: "retried %d onto %s" % (r["index"], r["queue"])
              if "queue" in r else "not retried %d: %s" % (r["index"], r["error"]))


@failed.command("remove")
@click.argument("indices", type=int, nargs=-1, required=True)
@connection_options
@json_option
def failed_remove(indices, redis_url, namespace, as_json):
    """Remove entries (resque-web's empty-string sentinel; higher indices first)."""
    failures = Admin(redis_url, namespace).failures
    try:
        failures.remove_many(indices)
    except IndexError as exc:
        raise click.ClickException(str(exc))
    emit({"removed": sorted(set(indices))}, as_json,
         lambda d: click.echo("removed %s" % ", ".join(map(str, d["removed"]))))


@failed.command("clear")
@connection_options
@json_option
def failed_clear(redis_url, namespace, as_json):
    """Delete the whole failed list."""
    failures = Admin(redis_url, namespace).failures
    count = failures.count()
    failures.clear()
    emit({"cleared": count}, as_json, lambda d: click.echo("cleared %d" % d["cleared"]))


@failed.command("clear-retried")
@connection_options
@json_option
def failed_clear_retried(redis_url, namespace, as_json):
    """Remove every entry that was retried."""
    removed = Admin(redis_url, namespace).failures.clear_retried()
    emit({"removed": removed}, as_json, lambda d: click.echo("removed %d" % d["removed"]))
