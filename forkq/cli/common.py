"""What every command shares: options built from forkq.config's table, loading the one Config,
importing the operator's --require modules, --json, and output. Imports neither redis-py nor
psutil (the worker loads this before its fork server starts)."""
import functools
import json
import os
import sys

import click

from forkq.cli.requires import import_jobs  # noqa: F401 (for the commands)
from forkq.config import OPTIONS, Config, ConfigError, option
from forkq.errors import ExitCode

# The Config a command loaded last: when Redis cannot be reached, forkq.cli.app.main says
# which URL (redacted) and where it came from.
loaded = []


def click_option(opt):
    notes = []
    if opt.env:
        notes.append("env: " + ", ".join(e.rstrip("?") for e in opt.env))
    if opt.default not in (None, False, (), ""):
        notes.append("default: %s" % (opt.default,))
    help_text = opt.help + (" [%s]" % "; ".join(notes) if notes else "")
    kwargs = dict(default=None, help=help_text, show_default=False)
    if opt.kind == "bool":
        kwargs.update(is_flag=True, flag_value=True)
    elif opt.kind == "list":
        kwargs.update(multiple=True, metavar=opt.metavar)
    elif opt.kind == "choice":
        kwargs.update(type=click.Choice(opt.choices))
    else:
        kwargs.update(type={"float": float, "int": int}.get(opt.kind, str), metavar=opt.metavar)
    return click.option(*opt.flags, opt.name, **kwargs)


def config_options(fn):
    """Every option of OPTIONS, as `forkq work` takes them."""
    for opt in reversed(OPTIONS):
        fn = click_option(opt)(fn)
    return fn


def load_config(values, need_queues=False):
    try:
        config = Config.load(values, need_queues=need_queues)
    except ConfigError as exc:
        click.echo("forkq: %s" % exc, err=True)
        sys.exit(ExitCode.CONFIG)
    loaded.append(config)
    return config


def connection_options(fn):
    """--redis-url, --redis-url-file and --namespace, with the worker's environment variables.
    The command gets redis_url and namespace; open_admin finds --redis-url-file itself."""
    @functools.wraps(fn)
    def command(*args, redis_url_file=None, **kwargs):
        click.get_current_context().meta[_URL_FILE] = redis_url_file
        return fn(*args, **kwargs)

    for name in ("namespace", "redis_url_file", "redis_url"):
        command = click_option(option(name))(command)
    return command


_URL_FILE = "forkq.redis_url_file"


def connection_config(redis_url, namespace, **more):
    """The Config of a command with connection_options (and any further option values)."""
    ctx = click.get_current_context(silent=True)
    url_file = ctx.meta.get(_URL_FILE) if ctx is not None else None
    return load_config(dict(more, redis_url=redis_url, namespace=namespace,
                            redis_url_file=url_file))


json_option = click.option("--json", "as_json", is_flag=True, envvar="FORKQ_JSON",
                           help="Print JSON instead of a table. [env: FORKQ_JSON]")


def emit(data, as_json, render):
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        render(data)


def emit_each(rows, as_json, say):
    """Results of acting on several items, a line each; exit 1 when any of them failed."""
    emit(rows, as_json, lambda rows: [click.echo(say(r)) for r in rows])
    if any("error" in r for r in rows):
        sys.exit(1)


def table(rows, headers):
    """Fixed-width columns, one line per row, like resque-web's tables."""
    if not rows:
        return
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def open_admin(redis_url, namespace):
    """The operator's Redis layer for a command, its options checked as the worker checks them."""
    from forkq.store.admin import Admin  # imports redis-py: only when a command needs it
    config = connection_config(redis_url, namespace)
    return Admin(config.redis_url, config.namespace)
