"""The state changes, each a POST that already passed auth, read-only and CSRF (app.py), then
a redirect back to the page with what was done (a reload repeats nothing).

Index-based actions name the entry the page showed by its index and a digest of its bytes;
an entry that is no longer that one (retried, removed or shifted by someone else meanwhile) is
left alone and the page says so. Retry and Remove then check again inside Redis, in the same
step as the write (Failures.retry / Failures.remove with `expected`)."""
from urllib.parse import parse_qsl, urlencode

from werkzeug.wrappers import Response

from forkq.store.failures import EntryChanged
from forkq.web import present


def _back(app, request, default="failed", **done):
    """303 to the page the form came from (a same-site path only), with the notice."""
    back = request.form.get("back", "")
    root = request.script_root or ""
    if not back.startswith(root + "/") or back.startswith("//") or "\\" in back:
        back = app.url(request, default)
    path, _, query = back.partition("?")
    params = [(k, v) for k, v in parse_qsl(query) if k not in ("done", "n", "arg", "skipped")]
    params += [(k, str(v)) for k, v in done.items() if v not in (None, "")]
    response = Response("", 303)
    response.headers["Location"] = path + ("?" + urlencode(params) if params else "")
    return response


def _shown_entry(app, request, index):
    """The entry at `index` if it is still the one the page showed, else None."""
    try:
        entry = app.admin.failures.get(index)
    except IndexError:
        return None
    if present.digest(entry.raw) != request.form.get("digest", ""):
        return None
    return entry


def failed_retry(app, request, index):
    failures = app.admin.failures
    entry = _shown_entry(app, request, index)
    requeue_to = (request.form.get("requeue_to") or "").strip() or None
    if entry is None:
        return _back(app, request, done="changed", n=index)
    try:
        queue = failures.retry(index, requeue_to, expected=entry.raw)
    except EntryChanged:
        return _back(app, request, done="changed", n=index)
    except ValueError as exc:  # no class, or no queue: the CLI's words, the page's control
        reason = str(exc).replace("use --requeue-to", "use Retry onto another queue")
        return _back(app, request, done="not_retried", n=index, arg=reason)
    return _back(app, request, done="retried", n=1, arg=queue)


def failed_remove(app, request, index):
    entry = _shown_entry(app, request, index)
    if entry is None or not app.admin.failures.remove(index, expected=entry.raw):
        return _back(app, request, done="changed", n=index)
    if request.form.get("from") == "one":  # the entry's own page is gone with it
        return app.redirect(request, "failed", notice="removed", n=1)
    return _back(app, request, done="removed", n=1)


def _filters(request):
    return (request.form.get("queue") or None), (request.form.get("class") or None)


def failed_retry_all(app, request):
    """resque-web's Retry all (every entry the page counted, retried ones too), or only the
    entries the queue/class filters match. Each is retried as it was read, by its own checked
    write."""
    failures = app.admin.failures
    queue, class_name = _filters(request)
    shown = present.int_arg(request.form, "count", None)  # failures that came later wait
    done = skipped = 0
    for entry in failures.matching(queue, class_name, oldest_first=True):
        if shown is not None and entry.index >= shown:
            break
        try:
            failures.retry(entry.index, None, expected=entry.raw)
            done += 1
        except (EntryChanged, ValueError):
            skipped += 1
    if skipped:
        return _back(app, request, done="partly", n=done, skipped=skipped)
    return _back(app, request, done="retried", n=done)


def failed_clear(app, request):
    """Unfiltered: the entries that were there when the page was shown (up to its newest,
    named by count and digest); failures that arrived since stay. Filtered: every matching
    entry, each removed only if unchanged (resque-web's per-queue Clear)."""
    failures = app.admin.failures
    queue, class_name = _filters(request)
    if queue or class_name:
        removed = skipped = 0
        for entry in failures.matching(queue, class_name):  # newest first: indices hold
            if failures.remove(entry.index, expected=entry.raw):
                removed += 1
            else:
                skipped += 1
        if skipped:
            return _back(app, request, done="partly", n=removed, skipped=skipped)
        return _back(app, request, done="cleared", n=removed)
    count = present.int_arg(request.form, "count", 0)
    if count < 1:
        return _back(app, request, done="cleared", n=0)
    last = _shown_entry(app, request, count - 1)
    if last is None or not failures.clear_through(count, expected=last.raw):
        return _back(app, request, done="changed", n=count - 1)
    return _back(app, request, done="cleared", n=count)


def failed_clear_retried(app, request):
    return _back(app, request, done="removed", n=app.admin.failures.clear_retried())


def queue_remove(app, request):
    name = request.form.get("name") or ""
    jobs, _known = app.admin.remove_queue(name)
    return app.redirect(request, "queues", notice="queue_removed", n=jobs, arg=name)
