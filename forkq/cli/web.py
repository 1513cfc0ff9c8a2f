"""`forkq web` (the dashboard, served by waitress) and `forkq metrics` (/metrics printed once).
Both need the optional extra, pip install 'forkq[web]'; nothing here imports it until the
command runs, so `forkq --help`, the man pages and `forkq work` never load it."""
import sys

import click
from click.core import ParameterSource

from forkq.cli.app import cli
from forkq.cli.common import connection_options, open_admin
from forkq.errors import ExitCode

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _need_extra():
    import importlib
    try:
        for name in ("werkzeug", "jinja2", "waitress", "prometheus_client"):
            importlib.import_module(name)
    except ImportError as exc:
        click.echo("forkq: %s: this command needs the web extra: pip install 'forkq[web]'"
                   % exc, err=True)
        sys.exit(ExitCode.CONFIG)


def parse_bind(text):
    """HOST:PORT, [IPv6]:PORT or PORT → (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter("give HOST:PORT, for example 127.0.0.1:5678", param_hint="--bind")
    return host, int(port)


@cli.command()
@click.option("--bind", default="127.0.0.1:5678", show_default=True, envvar="FORKQ_WEB_BIND",
              metavar="HOST:PORT",
              help="Where to listen: loopback unless you say otherwise (another address without "
                   "--auth-file is warned about). [env: FORKQ_WEB_BIND]")
@click.option("--read-only", is_flag=True, envvar="FORKQ_WEB_READ_ONLY",
              help="Show everything, change nothing: no buttons, and every POST is refused. "
                   "[env: FORKQ_WEB_READ_ONLY]")
@click.option("--auth-file", type=click.Path(exists=True, dir_okay=False), default=None,
              envvar="FORKQ_WEB_AUTH_FILE", metavar="FILE",
              help="Ask for credentials: the file's first line is USER:PASS (HTTP Basic) or a "
                   "token (Bearer, or the password with any user name). FORKQ_WEB_AUTH may "
                   "hold the same instead; never on the command line, where every user of "
                   "the host can read it. [env: FORKQ_WEB_AUTH_FILE]")
@click.option("--auth", "auth_env", hidden=True, envvar="FORKQ_WEB_AUTH", default=None,
              help="USER:PASS or a token, from the environment only. [env: FORKQ_WEB_AUTH]")
@click.option("--prefix", default="", envvar="FORKQ_WEB_PREFIX", metavar="PATH",
              help="Serve under this path, for example /forkq behind a proxy. "
                   "[env: FORKQ_WEB_PREFIX]")
@click.option("--refresh", type=click.FloatRange(min=0), default=2.0, show_default=True,
              envvar="FORKQ_WEB_REFRESH", metavar="SECONDS",
              help="How often the live parts of a page poll (0: never). "
                   "[env: FORKQ_WEB_REFRESH]")
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True,
              envvar="FORKQ_WEB_THREADS", metavar="N",
              help="Requests served at once. [env: FORKQ_WEB_THREADS]")
@connection_options
@click.pass_context
def web(ctx, bind, read_only, auth_file, auth_env, prefix, refresh, threads, redis_url,
        namespace):
    """Serve the dashboard: resque-web's Overview, Working, Failed, Queues, Workers, Stats,
    Schedules and Delayed pages with their actions, and /metrics for Prometheus.

    Failed lists newest first, 20 a page, filtered by queue and class, with Retry, Retry onto
    another queue, Remove, Retry all, Clear and Clear retried; Queues shows each queue's jobs
    and removes a queue; Schedules lists resque-scheduler's recurring schedules (when, class,
    queue, args, last and next fire) with Queue now and Remove; Delayed lists the delayed
    timestamps soonest first, 20 a page, and one timestamp's jobs, with Queue now, Remove a job
    and Clear; both say who holds the scheduler's master lock and how late the due backlog is.
    The live parts of a page refresh themselves every --refresh seconds.

    State changes are POSTs that carry a CSRF token, and an action on a failed entry acts only
    if the entry is still the one the page showed; --read-only removes every action. Every
    string from Redis is shown as text.

    To mount the pages in another Python web app instead, call forkq.web.create_app(): a WSGI
    app that builds its links from SCRIPT_NAME, for example under /forkq with werkzeug's
    DispatcherMiddleware."""
    if ctx.get_parameter_source("auth_env") == ParameterSource.COMMANDLINE:
        raise click.UsageError("a secret on the command line is visible to every user of the "
                               "host: put USER:PASS in a file (--auth-file) or FORKQ_WEB_AUTH")
    host, port = parse_bind(bind)
    if host not in LOOPBACK and not (auth_file or auth_env):
        click.echo("forkq web: warning: %s listens beyond this host and asks no password "
                   "(--auth-file); anyone who reaches it can retry and delete jobs" % bind,
                   err=True)
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    _need_extra()
    from forkq.web.app import Dashboard
    from forkq.web.security import read_secret
    from forkq.web.serve import serve
    try:
        secret = read_secret(auth_env, auth_file)
    except (OSError, ValueError) as exc:
        raise click.UsageError(str(exc))
    app = Dashboard(open_admin(redis_url, namespace), read_only=read_only, auth=secret,
                    refresh=refresh)
    click.echo("forkq web: http://%s:%d%s/ (Redis %s%s%s)" % (
        "[%s]" % host if ":" in host else host, port, prefix, app.admin.server,
        ", read-only" if read_only else "", ", password asked" if app.auth else ""), err=True)
    serve(app, host, port, prefix, threads)


@cli.command()
@connection_options
def metrics(redis_url, namespace):
    """Print what /metrics serves, once, in Prometheus's text format: queue depths and
    oldest-job ages, workers by state, processed and failed counters (Resque's and per
    worker), the failed list's length, delayed jobs and their due backlog, the scheduler's
    master and lag. For node_exporter's textfile collector, or a look from a shell."""
    _need_extra()
    from forkq.web.metrics import text
    click.echo(text(open_admin(redis_url, namespace)), nl=False)
