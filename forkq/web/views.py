"""The pages, resque-web's tabs: each reads through the operator's data layer (the same
reads `forkq info/failed/queues/workers/stats` make) and returns a template and its values.
Long lists are read a page at a time (LRANGE), never whole."""
import json

from werkzeug.exceptions import NotFound

from forkq import wire
from forkq.web import present

PER_PAGE = 20    # resque-web's page
# Failed entries a filtered page reads at most before it offers "keep looking" (Redis checks
# them for the name at ~2 ms a thousand): a filter that matches nothing still answers within
# the 100 ms a page is given with 100,000 entries, on a busy machine.
FILTER_BUDGET = 10_000
KEYS_PER_PAGE = 100

NOTICES = {
    "retried": "Retried %(n)s failed job(s)%(onto)s.",
    "removed": "Removed %(n)s failed job(s).",
    "cleared": "Cleared %(n)s failed job(s).",
    "changed": "Nothing done: failed entry %(n)s changed since the page was shown "
               "(retried, removed or moved by someone else). Here it is as it is now.",
    "partly": "Done %(n)s; %(skipped)s could not be (changed meanwhile, or no class or queue).",
    "queue_removed": "Removed queue %(arg)s and its %(n)s job(s).",
    "not_retried": "Failed entry %(n)s was not retried: %(arg)s",
    "delayed_removed": "Removed %(n)s delayed job(s) due at %(arg)s.",
    "delayed_changed": "Nothing removed: that job is no longer delayed at %(arg)s (queued "
                       "or removed meanwhile).",
    "delayed_queued": "Queued %(n)s delayed job(s) of %(arg)s now%(to_failed)s.",
    "delayed_cleared": "Dropped %(n)s delayed job(s).",
    "schedule_removed": "Removed schedule %(arg)s.",
    "schedule_queued": "Queued schedule %(arg)s now.",
    "schedule_not_queued": "Nothing queued: schedule %(arg)s",
    "no_schedule": "No schedule %(arg)s (removed meanwhile?).",
}
WARNINGS = ("changed", "partly", "not_retried", "delayed_changed", "schedule_not_queued",
            "no_schedule")


class Page:
    __slots__ = ("template", "live", "context")

    def __init__(self, template, context, live=None):
        self.template = template
        self.live = live  # the name of its part under live/ that forkq.js polls, if any
        self.context = context


def notice(request):
    """The message an action's redirect asked for (a fixed text; only numbers and a name from
    the query string go into it, and the template escapes them)."""
    code = request.args.get("done")
    if code not in NOTICES:
        return None
    arg = request.args.get("arg", "")
    values = {"n": present.int_arg(request.args, "n", 0), "arg": arg,
              "skipped": present.int_arg(request.args, "skipped", 0),
              "onto": " onto %s" % arg if arg and code == "retried" else ""}
    values["to_failed"] = "; %d had no queue and went to failed" % values["skipped"] \
        if values["skipped"] else ""
    kind = "warn" if code in WARNINGS or values["skipped"] else "ok"
    return {"kind": kind, "text": NOTICES[code] % values}


def _working(rows):
    return sorted((w for w in rows if w["state"] == "working"), key=lambda w: w["since"] or "")


def _worker_times(rows):
    for row in rows:
        row["since_at"] = present.epoch_of(row.get("since"))
        row["started_at"] = present.epoch_of(row.get("started"))
        row["heartbeat_at"] = present.epoch_of(row.get("heartbeat"))
    return rows


def overview(app, request):
    admin = app.admin
    queues = admin.queues()
    workers = _worker_times(admin.workers())
    stats = admin.stats(queues, workers)
    return Page("overview.html", {"tab": "overview", "now": admin.now(), "stats": stats,
                                  "queues": queues, "working": _working(workers),
                                  "worker_count": len(workers)}, live="overview")


def working(app, request):
    admin = app.admin
    workers = _worker_times(admin.workers())
    return Page("working.html", {"tab": "working", "now": admin.now(),
                                 "working": _working(workers), "worker_count": len(workers)},
                live="working")


def failed(app, request):
    """Newest first. Unfiltered: page N of the whole list (one LLEN + one LRANGE). Filtered by
    queue and/or class: the matching entries older than `before`, read in chunks."""
    admin = app.admin
    queue = request.args.get("queue") or None
    class_name = request.args.get("class") or None
    context = {"tab": "failed", "now": admin.now(), "queue": queue, "class_name": class_name,
               "pages": None, "more": None, "before": None, "per_page": PER_PAGE}
    if queue or class_name:
        before = request.args.get("before")
        before = present.int_arg(request.args, "before", 0) if before else None
        entries, more = admin.failures.scan(queue, class_name, before, PER_PAGE,
                                            budget=FILTER_BUDGET)
        context.update(total=admin.failures.count(), more=more, before=before)
    else:
        pages = present.Pages(present.int_arg(request.args, "page", 1, low=1), PER_PAGE,
                              admin.failures.count(), lambda n: app.url(
                                  request, "failed", page=n if n > 1 else None))
        total, entries = admin.failures.page(pages.offset, PER_PAGE)
        page = pages.page
        context["pages"] = pages
        context["total"] = total
        newest = entries[0] if entries and page == 1 else _newest(admin.failures, total)
        if newest is not None:  # what Clear may clear: the entries up to the newest shown
            context["clear"] = {"count": newest.index + 1, "digest": present.digest(newest.raw)}
        else:
            context["total"] = 0
    context["entries"] = [_failed_row(e) for e in entries]
    return Page("failed.html", context)


def _newest(failures, total):
    try:
        return failures.get(total - 1) if total else None
    except IndexError:  # the list shrank since it was counted
        return None


def _failed_row(entry):
    data = entry.data
    row = {"index": entry.index, "digest": present.digest(entry.raw),
           "is_object": entry.is_object, "class_name": entry.class_name,
           "queue": entry.queue, "worker": data.get("worker"), "args": entry.args,
           "exception": data.get("exception"), "error": data.get("error"),
           "failed_at_text": data.get("failed_at"), "retried_at_text": data.get("retried_at"),
           "failed_at": present.epoch_of(data.get("failed_at")),
           "retried_at": present.epoch_of(data.get("retried_at")),
           "raw": None if entry.is_object else present.text(entry.raw),
           "unreadable": not entry.class_name}  # nothing Retry could re-create
    return row


def failed_one(app, request, index):
    admin = app.admin
    try:
        entry = admin.failures.get(index)
    except IndexError as exc:
        raise NotFound(str(exc))
    row = _failed_row(entry)
    data = entry.data
    row.update(payload=data.get("payload"), backtrace=data.get("backtrace"),
               extra={k: v for k, v in data.items() if k not in FAILED_FIELDS})
    return Page("failed_one.html", {"tab": "failed", "now": admin.now(), "entry": row,
                                    "total": admin.failures.count()})


FAILED_FIELDS = ("failed_at", "payload", "exception", "error", "backtrace", "worker", "queue",
                 "retried_at")


def queues(app, request):
    admin = app.admin
    return Page("queues.html", {"tab": "queues", "now": admin.now(), "queues": admin.queues(),
                                "failed": admin.failures.count()}, live="queues")


def queue(app, request):
    admin = app.admin
    name = request.args.get("name") or ""
    if not name:
        raise NotFound("which queue? /queue?name=NAME")
    page = present.int_arg(request.args, "page", 1, low=1)
    size, raws = admin.queue_page(name, (page - 1) * PER_PAGE, PER_PAGE)
    jobs = []
    for position, raw in raws:
        try:
            payload = json.loads(raw)
        except ValueError:  # not JSON, or not UTF-8: shown as the text it is
            payload = None
        if isinstance(payload, dict):
            jobs.append({"position": position, "class_name": payload.get("class"),
                         "args": payload.get("args"), "raw": None,
                         "enqueued_at": wire.enqueued_at(payload)})
        else:
            jobs.append({"position": position, "raw": present.text(raw)})
    pages = present.Pages(page, PER_PAGE, size, lambda n: app.url(
        request, "queue", name=name, page=n if n > 1 else None))
    return Page("queue.html", {"tab": "queues", "now": admin.now(), "name": name, "size": size,
                               "jobs": jobs, "pages": pages,
                               "known": admin.queue_known(name)})


def workers(app, request):
    admin = app.admin
    rows = _worker_times(admin.workers())
    hosts = sorted({w["host"] for w in rows})
    return Page("workers.html", {"tab": "workers", "now": admin.now(), "workers": rows,
                                 "hosts": hosts,
                                 "working_count": sum(w["state"] == "working" for w in rows)},
                live="workers")


def worker(app, request):
    admin = app.admin
    wid = request.args.get("id") or ""
    rows = [w for w in _worker_times(admin.workers()) if w["id"] == wid]
    if not rows:
        raise NotFound("no worker %s is registered (it may have stopped or been pruned)" % wid)
    return Page("worker.html", {"tab": "workers", "now": admin.now(), "worker": rows[0]},
                live="worker")


def stats(app, request):
    admin = app.admin
    return Page("stats.html", {"tab": "stats", "now": admin.now(), "stats": admin.stats()},
                live="stats")


def stats_redis(app, request):
    admin = app.admin
    info = sorted(admin.redis_info().items())
    return Page("stats_redis.html", {"tab": "stats", "now": admin.now(), "info": info})


def stats_keys(app, request):
    admin = app.admin
    names = admin.namespace_key_names()
    page = present.int_arg(request.args, "page", 1, low=1)
    pages = present.Pages(page, KEYS_PER_PAGE, len(names), lambda n: app.url(
        request, "stats_keys", page=n if n > 1 else None))
    shown = admin.describe_keys(names[pages.offset:pages.offset + KEYS_PER_PAGE])
    return Page("stats_keys.html", {"tab": "stats", "now": admin.now(), "pages": pages,
                                    "keys": shown,
                                    "prefix": admin.keys.prefix})


def stats_key(app, request):
    admin = app.admin
    key = request.args.get("key") or ""
    page = present.int_arg(request.args, "page", 1, low=1)
    shown = admin.key_page(key, (page - 1) * KEYS_PER_PAGE, KEYS_PER_PAGE)
    if shown is None:
        raise NotFound("no key %s under %s" % (key, admin.keys.prefix or "(no namespace)"))
    pages = present.Pages(page, KEYS_PER_PAGE, shown["size"] if shown["type"] != "string" else 1,
                          lambda n: app.url(request, "stats_key", key=key,
                                            page=n if n > 1 else None))
    return Page("stats_key.html", {"tab": "stats", "now": admin.now(), "key": key,
                                   "shown": shown, "pages": pages})
