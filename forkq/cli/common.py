"""What every operator command shares: the connection options, --json, and output."""
import json
import sys

import click

from forkq.cli.app import _click_option, load_config
from forkq.config import option
from forkq.store.admin import Admin


def connection_options(fn):
    """--redis-url and --namespace, with the worker's environment variables."""
    for name in ("namespace", "redis_url"):
        fn = _click_option(option(name))(fn)
    return fn


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
    config = load_config({"redis_url": redis_url, "namespace": namespace})
    return Admin(config.redis_url, config.namespace)
