"""resque-web's Delayed and Schedule tabs (resque-scheduler's keys, contract §12): the pages
and their actions, through the same data layer as `forkq delayed` and `forkq schedule`
(forkq.store.scheduling_admin.SchedulingAdmin, the scheduler's own mover for Queue now).

Every action is a POST that already passed auth, read-only and CSRF (app.py). A delayed job
is named by its timestamp, its position and a digest of its bytes, so Remove takes off
exactly the item the page showed (every copy of it at that second, as resque-web's cancel
does) or nothing when it has moved meanwhile."""
import json

from werkzeug.exceptions import NotFound

from forkq.web import present
from forkq.web.actions import _back
from forkq.web.views import PER_PAGE, Page
from forkq.wire import scheduler as wire


def _sched(admin):
    return admin.scheduling()


def _item(raw):
    """A delayed item as a page shows it: its class, args and queue, or its text when it is
    not a JSON object (anyone may have written it)."""
    try:
        item = json.loads(raw)
    except (ValueError, RecursionError):
        item = None
    if not isinstance(item, dict):
        return {"raw": present.text(raw), "class_name": None, "args": None, "queue": None}
    return {"raw": None, "class_name": item.get("class"), "args": item.get("args"),
            "queue": item.get("queue")}


def scheduler_status(admin, sched, now):
    """Who holds the master lock, forkq's running schedulers, and how late the due backlog
    is (what /metrics says as forkq_scheduler_* and forkq_delayed_due_jobs)."""
    who = sched.schedulers(now)
    for row in who["schedulers"]:
        row["heartbeat_at"] = row.get("heartbeat") if isinstance(row.get("heartbeat"),
                                                                 (int, float)) else None
    who.update(admin.delayed_due(now))
    return who


def delayed(app, request):
    """Timestamps soonest first, a page at a time (ZRANGE by rank), each with its job count
    and, when it holds one job, that job (as resque-web shows them)."""
    admin = app.admin
    sched = _sched(admin)
    now = admin.now()
    wanted = present.int_arg(request.args, "page", 1, low=1)
    total, heads = sched.delayed_page((wanted - 1) * PER_PAGE, PER_PAGE)
    pages = present.Pages(wanted, PER_PAGE, total, lambda n: app.url(
        request, "delayed", page=n if n > 1 else None))
    if pages.page != wanted:  # past the end: the last page
        total, heads = sched.delayed_page(pages.offset, PER_PAGE)
    rows = []
    for ts, size, first in heads:
        row = {"timestamp": ts, "jobs": size, "item": None}
        if size == 1 and first is not None:
            row["item"] = _item(first)
        rows.append(row)
    return Page("delayed.html", {"tab": "delayed", "now": now, "rows": rows, "pages": pages,
                                 "totals": admin.scheduler(),
                                 "status": scheduler_status(admin, sched, now)},
                live="scheduler")


def delayed_one(app, request, ts):
    admin = app.admin
    sched = _sched(admin)
    page = present.int_arg(request.args, "page", 1, low=1)
    size, raws = sched.timestamp_page(ts, (page - 1) * PER_PAGE, PER_PAGE)
    if not size:
        raise NotFound("no delayed jobs at %d (queued, removed or never there)" % ts)
    jobs = [dict(_item(raw), position=position, digest=present.digest(raw))
            for position, raw in raws]
    pages = present.Pages(page, PER_PAGE, size, lambda n: app.url(
        request, "delayed_one", ts=ts, **({"page": n} if n > 1 else {})))
    return Page("delayed_one.html", {"tab": "delayed", "now": admin.now(), "ts": ts,
                                     "size": size, "jobs": jobs, "pages": pages})


def schedules(app, request):
    from forkq.scheduler.schedules import listing
    admin = app.admin
    sched = _sched(admin)
    now = admin.now()
    rows = listing(sched.schedules(), now)
    for row in rows:
        row["last_at"] = wire.parse_ruby_time(row["last_enqueued_at"])
        row["next_at"] = wire.parse_ruby_time(row["next"]) if row["next"] else None
        config = row["config"] if isinstance(row["config"], dict) else {}
        row["class_name"] = config.get("class") or (row["name"] if config else None)
        row["queue"] = config.get("queue")
        row["has_args"] = "args" in config
        row["args"] = config.get("args")
        row["description"] = config.get("description")
        row.setdefault("error", None)
        row.setdefault("when", None)
    return Page("schedules.html", {"tab": "schedules", "now": now, "rows": rows,
                                   "status": scheduler_status(admin, sched, now)},
                live="scheduler")


# --- actions -----------------------------------------------------------------------------------

def _shown_item(sched, request, ts):
    """The raw item at `ts` the page showed (by position, else wherever it moved to within
    the timestamp), or None when no item at `ts` has those bytes any more."""
    wanted = request.form.get("digest", "")
    position = present.int_arg(request.form, "position", 0)
    for raw in sched.items(ts, position, 1):
        if present.digest(raw) == wanted:
            return raw
    for raw in sched.items(ts):
        if present.digest(raw) == wanted:
            return raw
    return None


def delayed_remove(app, request, ts):
    sched = _sched(app.admin)
    raw = _shown_item(sched, request, ts)
    removed = sched.remove_at(ts, raw) if raw is not None else 0
    if not removed:
        return _back(app, request, "delayed", done="delayed_changed", arg=ts)
    if not sched.items(ts, 0, 1):  # the timestamp's page is gone with its last job
        return app.redirect(request, "delayed", notice="delayed_removed", n=removed, arg=ts)
    return _back(app, request, "delayed", done="delayed_removed", n=removed, arg=ts)


def delayed_enqueue_now(app, request, ts):
    from forkq.scheduler.mover import queue_now
    admin = app.admin
    row = queue_now(_sched(admin), [ts], admin.now())[0]
    return app.redirect(request, "delayed", notice="delayed_queued", n=row["queued"],
                        skipped=row["failed"], arg=ts)


def delayed_clear(app, request):
    return app.redirect(request, "delayed", notice="delayed_cleared",
                        n=_sched(app.admin).clear())


def schedule_remove(app, request):
    name = request.form.get("name") or ""
    if not _sched(app.admin).remove_schedules([name]):
        return app.redirect(request, "schedules", notice="no_schedule", arg=name)
    return app.redirect(request, "schedules", notice="schedule_removed", arg=name)


def schedule_enqueue_now(app, request):
    """resque-web's Queue now of a schedule: its job once, onto its queue, now (as
    enqueue_from_config; delayed:last_enqueued_at is the master's and stays as it is)."""
    from forkq.api.enqueue import Producer
    from forkq.scheduler.schedules import Schedule, ScheduleError
    admin = app.admin
    name = request.form.get("name") or ""
    raw = _sched(admin).schedule_config(name)
    if raw is None:
        return app.redirect(request, "schedules", notice="no_schedule", arg=name)
    try:
        queue, payload = Schedule(name, raw).payload()
    except (ScheduleError, wire.Unmovable) as exc:
        return app.redirect(request, "schedules", notice="schedule_not_queued",
                            arg="%s: %s" % (name, exc))
    Producer(admin.redis, admin.keys.prefix.rstrip(":")).push(queue, payload)
    return app.redirect(request, "schedules", notice="schedule_queued",
                        arg="%s onto %s" % (name, queue))
