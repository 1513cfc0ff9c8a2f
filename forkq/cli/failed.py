"""`forkq failed`: resque-web's Failed tab from the shell, with its semantics (indices are
positions, 0 = oldest; Retry sets retried_at in place; Remove uses the empty-string sentinel)."""
import json

import click

from forkq.cli.common import (
    connection_options,
    emit,
    emit_each,
    json_option,
    open_admin,
    table,
)


@click.group()
def failed():
    """The failed list, with resque-web's semantics (indices are positions, 0 = oldest)."""


def _filters(fn, when=""):
    fn = click.option("--class", "class_name", envvar="FORKQ_FAILED_CLASS",
                      help="%sOnly entries of this job class. [env: FORKQ_FAILED_CLASS]"
                           % when)(fn)
    fn = click.option("--queue", envvar="FORKQ_FAILED_QUEUE",
                      help="%sOnly entries from this queue. [env: FORKQ_FAILED_QUEUE]"
                           % when)(fn)
    return fn


def _all_filters(fn):
    return _filters(fn, "With --all: ")


@failed.command("list")
@_filters
@click.option("--limit", type=int, default=None, envvar="FORKQ_LIMIT",
              help="Show at most this many (newest first). [env: FORKQ_LIMIT]")
@connection_options
@json_option
def failed_list(queue, class_name, limit, redis_url, namespace, as_json):
    """Failed jobs, newest first, each with its index."""
    entries = list(reversed(open_admin(redis_url, namespace).failures.all(queue, class_name)))
    if limit is not None:
        entries = entries[:limit]

    def render(entries):
        if not entries:
            click.echo("no failed jobs")
            return
        table([(e.index, e.data.get("failed_at", ""), e.queue or "", e.class_name or "?",
                e.data.get("exception", ""),
                _one_line(e.data.get("error", "") if e.is_object
                          else "(not a JSON object) " + e.as_dict()["raw"], 60),
                e.data.get("retried_at", ""))
               for e in entries],
              ("INDEX", "FAILED AT", "QUEUE", "CLASS", "EXCEPTION", "ERROR", "RETRIED AT"))

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
        entry = open_admin(redis_url, namespace).failures.get(index)
    except IndexError as exc:
        raise click.ClickException(str(exc))

    def render(data):
        if "raw" in data:
            click.echo("not a JSON object: %s" % data["raw"])
            return
        for key in ("failed_at", "queue", "worker", "exception", "error", "retried_at"):
            if key in data:
                click.echo("%-10s %s" % (key, data[key]))
        click.echo("%-10s %s" % ("payload", json.dumps(data.get("payload"), ensure_ascii=False)))
        for line in data.get("backtrace") or []:
            click.echo("  " + str(line))

    emit(entry.as_dict(), as_json, render)


def _selection(failures, indices, select_all, queue, class_name):
    """What a retry/remove acts on, as [(index, raw entry or None)]: INDEX... as given (None:
    the entry there when it is acted on), or --all (with the filters) as listed, so that a
    retry acts on the very entry the filters chose even if a concurrent Remove moved it.
    Filters only choose entries for --all; with INDEX... they would be silently ignored or
    would change which entry an index means, so the combination is refused."""
    if indices and select_all:
        raise click.UsageError("give INDEX... or --all, not both")
    if indices and (queue is not None or class_name is not None):
        raise click.UsageError("--queue and --class choose entries for --all; with INDEX... "
                               "leave them out (see `forkq failed list --queue Q --class C`)")
    if select_all:
        return [(e.index, e.raw) for e in failures.all(queue, class_name)]
    if not indices:
        raise click.UsageError("give INDEX... or --all")
    return [(index, None) for index in indices]


def _all_option(verb, env):
    return click.option("--all", "select_all", is_flag=True, envvar=env,
                        help="%s every entry (--queue/--class choose which). [env: %s]"
                             % (verb, env))


@failed.command("retry")
@click.argument("indices", type=int, nargs=-1)
@_all_option("Retry", "FORKQ_FAILED_ALL")
@_all_filters
@click.option("--requeue-to", envvar="FORKQ_REQUEUE_TO", metavar="QUEUE",
              help="Push to this queue instead of the job's own. [env: FORKQ_REQUEUE_TO]")
@connection_options
@json_option
def failed_retry(indices, select_all, queue, class_name, requeue_to, redis_url, namespace,
                 as_json):
    """Retry entries as resque-web does: retried_at in place, the job re-created with only
    class and args (args as Ruby's *args makes them). An entry that cannot be retried (no
    class, no queue and no --requeue-to) is reported and the others still go; the exit status
    is 1 if any could not."""
    failures = open_admin(redis_url, namespace).failures
    done = []
    for index, raw in _selection(failures, indices, select_all, queue, class_name):
        try:
            done.append({"index": index, "queue": failures.retry(index, requeue_to, raw)})
        except (IndexError, ValueError) as exc:
            done.append({"index": index, "error": str(exc)})
    if not done:
        return emit([], as_json, lambda _rows: click.echo("no failed entries to retry"))
    emit_each(done, as_json, lambda r: "retried %d onto %s" % (r["index"], r["queue"])
              if "queue" in r else "not retried %d: %s" % (r["index"], r["error"]))


@failed.command("remove")
@click.argument("indices", type=int, nargs=-1)
@_all_option("Remove", "FORKQ_FAILED_REMOVE_ALL")
@_all_filters
@connection_options
@json_option
def failed_remove(indices, select_all, queue, class_name, redis_url, namespace, as_json):
    """Remove entries (resque-web's empty-string sentinel; higher indices first). With --all
    and --queue/--class: every matching entry (resque-web's per-queue Clear)."""
    failures = open_admin(redis_url, namespace).failures
    chosen = [index for index, _raw in _selection(failures, indices, select_all, queue,
                                                   class_name)]
    try:
        failures.remove_many(chosen)
    except IndexError as exc:
        raise click.ClickException(str(exc))
    emit({"removed": sorted(set(chosen))}, as_json,
         lambda d: click.echo("removed %s" % ", ".join(map(str, d["removed"]))
                              if d["removed"] else "nothing to remove"))


@failed.command("clear")
@connection_options
@json_option
def failed_clear(redis_url, namespace, as_json):
    """Delete the whole failed list."""
    failures = open_admin(redis_url, namespace).failures
    count = failures.count()
    failures.clear()
    emit({"cleared": count}, as_json, lambda d: click.echo("cleared %d" % d["cleared"]))


@failed.command("clear-retried")
@connection_options
@json_option
def failed_clear_retried(redis_url, namespace, as_json):
    """Remove every entry that was retried."""
    removed = open_admin(redis_url, namespace).failures.clear_retried()
    emit({"removed": removed}, as_json, lambda d: click.echo("removed %d" % d["removed"]))
