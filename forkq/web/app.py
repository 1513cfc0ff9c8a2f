"""The WSGI application: routing, the checks every request passes (auth, then for a POST
read-only and CSRF), templates from files with autoescaping on, and the error pages.

Werkzeug (routing, requests, responses) and Jinja2 (templates that escape every value unless
told otherwise) are the well-kept pieces; the views and actions are plain functions of a
request and the operator's data layer (forkq.store.admin.Admin), the one the CLI uses."""
import os
import time
from urllib.parse import urlencode

import jinja2
import redis
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from forkq.web import actions, metrics, present, scheduled, security, views

HERE = os.path.dirname(os.path.abspath(__file__))
STATIC = os.path.join(HERE, "static")

TABS = (("overview", "Overview"), ("working", "Working"), ("failed", "Failed"),
        ("queues", "Queues"), ("workers", "Workers"), ("stats", "Stats"),
        ("schedules", "Schedules"), ("delayed", "Delayed"))

GET = ["GET", "HEAD"]
ROUTES = [Rule(path, endpoint=name, methods=GET) for path, name in (
    ("/", "overview"), ("/working", "working"), ("/failed", "failed"),
    ("/failed/<int:index>", "failed_one"), ("/queues", "queues"), ("/queue", "queue"),
    ("/workers", "workers"), ("/worker", "worker"), ("/stats", "stats"),
    ("/stats/redis", "stats_redis"), ("/stats/keys", "stats_keys"), ("/stats/key", "stats_key"),
    ("/metrics", "metrics"), ("/static/<name>", "static"), ("/delayed", "delayed"),
    ("/delayed/<int:ts>", "delayed_one"), ("/schedules", "schedules"))]
QUERY_ONLY = {rule.endpoint for rule in ROUTES if "<" not in rule.rule}
ROUTES += [Rule(path, endpoint=name, methods=["POST"]) for path, name in (
    ("/failed/<int:index>/retry", "failed_retry"), ("/failed/<int:index>/remove",
                                                     "failed_remove"),
    ("/failed/retry-all", "failed_retry_all"), ("/failed/clear", "failed_clear"),
    ("/failed/clear-retried", "failed_clear_retried"), ("/queue/remove", "queue_remove"),
    ("/delayed/<int:ts>/remove", "delayed_remove"),
    ("/delayed/<int:ts>/enqueue-now", "delayed_enqueue_now"), ("/delayed/clear", "delayed_clear"),
    ("/schedules/remove", "schedule_remove"), ("/schedules/enqueue-now", "schedule_enqueue_now"))]


class Dashboard:
    """`forkq.web.create_app()` returns one; any WSGI server (or a mount under a prefix in
    another app, which sets SCRIPT_NAME) runs it."""

    def __init__(self, admin, read_only=False, auth=None, refresh=2.0):
        self.admin = admin
        self.read_only = read_only
        self.auth = security.Auth(auth) if auth else None
        self.refresh = refresh
        self.url_map = Map([rule.empty() for rule in ROUTES], strict_slashes=False)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
            autoescape=True, trim_blocks=True, lstrip_blocks=True,
            undefined=jinja2.StrictUndefined)
        self.templates.filters.update(
            iso=present.iso, ago=present.ago, compact=present.compact, pretty=present.pretty,
            short=present.short, text=present.text)
        self.collector = metrics.ForkqCollector(admin)

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except HTTPException as exc:
            response = self.error(request, exc.code, exc.description)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            response = self.error(request, 503, "Redis at %s cannot be reached: %s"
                                  % (self.admin.server, exc))
        except redis.RedisError as exc:  # a key of another type than Resque's, say
            response = self.error(request, 500, "Redis at %s refused a read or write of this "
                                  "page: %s" % (self.admin.server, exc))
        for name, value in security.HEADERS:
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    def dispatch(self, request):
        if self.auth and not self.auth.allows(request):
            return Response("forkq web: a user name and password (or a token) are needed\n",
                            401, {"WWW-Authenticate": 'Basic realm="forkq", charset="UTF-8"'})
        adapter = self.url_map.bind_to_environ(request.environ)
        endpoint, values = adapter.match()
        request.adapter = adapter
        if endpoint == "static":
            return send_from_directory(STATIC, values["name"], request.environ, max_age=0)
        if endpoint == "metrics":
            return Response(*self.collector.exposition())
        if request.method == "POST":
            if self.read_only:
                return self.error(request, 403, "forkq web runs read-only: nothing is changed")
            refusal = security.csrf_refusal(request)
            if refusal:
                return self.error(request, 403, refusal)
            action = getattr(actions, endpoint, None) or getattr(scheduled, endpoint)
            return action(self, request, **values)
        view = getattr(views, endpoint, None) or getattr(scheduled, endpoint)
        page = view(self, request, **values)
        if request.args.get("partial") and page.live:
            return self.render(request, "live/%s.html" % page.live, page.context)
        return self.render(request, page.template, page.context)

    def url(self, request, endpoint, **values):
        values = {k: v for k, v in values.items() if v not in (None, "")}
        if endpoint not in QUERY_ONLY:
            return request.adapter.build(endpoint, values)
        # A page of 1,000 queue links: the path is built once a request, the query appended
        # (werkzeug's build costs ~20 us a link).
        bases = request.__dict__.setdefault("url_bases", {})
        base = bases.get(endpoint) or bases.setdefault(endpoint, request.adapter.build(endpoint))
        return base + ("?" + urlencode(values) if values else "")

    def render(self, request, template, context, status=200):
        token, new = security.csrf_token(request)
        adapter = getattr(request, "adapter", None) or self.url_map.bind_to_environ(
            request.environ)
        request.adapter = adapter
        base = dict(url=lambda endpoint, **v: self.url(request, endpoint, **v), tabs=TABS,
                    tab=context.get("tab", ""), now=context.get("now") or int(time.time()),
                    read_only=self.read_only, csrf=token, refresh=self.refresh,
                    namespace=self.admin.keys.prefix.rstrip(":") or "(none)",
                    server=self.admin.server, notice=views.notice(request),
                    request_path=(request.script_root + request.full_path).rstrip("?"))
        html = self.templates.get_template(template).render(dict(base, **context))
        response = Response(html, status, mimetype="text/html")
        if new:
            security.set_csrf_cookie(response, token, request.script_root)
        return response

    def error(self, request, status, message):
        return self.render(request, "error.html", {"status": status, "message": message},
                           status)

    def redirect(self, request, endpoint, notice=None, **values):
        """After a POST, back to a page (so a reload does not repeat it), saying what was done."""
        if notice:
            values.update(done=notice)
        response = Response("", 303)
        response.headers["Location"] = self.url(request, endpoint, **values)
        return response


__all__ = ["Dashboard"]
