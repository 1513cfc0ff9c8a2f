"""The `forkq` command: a thin click layer over Config. `work` runs a worker; the admin
commands live in the other modules of forkq.cli and register themselves on
the same group (load_commands)."""
import importlib
import importlib.util
import os
import sys

import click

from forkq import __version__
from forkq.api import hooks
from forkq.config import OPTIONS, Config, ConfigError
from forkq.errors import ExitCode


def _click_option(opt):
    envs = ", ".join(e.rstrip("?") for e in opt.env)
    help_text = opt.help + (" [env: %s]" % envs if envs else "")
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
    for opt in reversed(OPTIONS):
        fn = _click_option(opt)(fn)
    return fn


def load_config(values, need_queues=False):
    try:
        return Config.load(values, need_queues=need_queues)
    except ConfigError as exc:
        click.echo("forkq: %s" % exc, err=True)
        sys.exit(ExitCode.CONFIG)


def import_jobs(modules):
    """Import the operator's --require modules (never a name from a payload)."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in modules:
        try:
            if name.endswith(".py") and os.path.exists(name):
                mod_name = os.path.splitext(os.path.basename(name))[0]
                spec = importlib.util.spec_from_file_location(mod_name, name)
                module = importlib.util.module_from_spec(spec)
                sys.modules[mod_name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(name)
        except Exception as exc:
            click.echo("forkq: --require %s failed: %s: %s" % (name, type(exc).__name__, exc),
                       err=True)
            sys.exit(ExitCode.CONFIG)


@click.group(context_settings={"help_option_names": ["-h", "--help"],
                               "max_content_width": 100})
@click.version_option(__version__, prog_name="forkq")
def cli():
    """forkq: a forking Python worker that speaks Resque's Redis protocol."""


@cli.command()
@config_options
def work(**values):
    """Reserve jobs from the queues and perform each in a forked child."""
    config = load_config(values, need_queues=True)
    import_jobs(config.requires)
    if config.background:
        from forkq.proc.daemon import daemonize
        daemonize()
    server, guard, note = start_forker(config)
    from forkq.proc.daemon import pidfile
    from forkq.worker.loop import (
        Worker,  # imports redis-py: only after the fork server is forked
    )
    with pidfile(config.pidfile):
        code = Worker(config, forkserver=server, guard=guard, fork_note=note).work()
    sys.exit(int(code))


def start_forker(config):
    """Fork the lean process that forks job children (see forkq.proc.forkserver), unless asked not
    to, a child takes several jobs (then fork cost is spread over them anyway), or worker hooks
    that run before a fork must run in the process that forks. Without it, a guard (see
    forkq.proc.guard) ends the children's groups if the worker dies. → (server, guard, note)."""
    from forkq.proc.child import Context
    from forkq.proc.titles import Titles
    titles = Titles(config.procline_prefix)
    note = None
    hooked = [name for name in ("before_first_fork", "before_fork") if hooks.registered(name)]
    if not (config.no_fork_server or config.jobs_per_child > 1) and hooked:
        # They run in the worker (Resque's order: after prune, before each fork); what they
        # set up (preloading, jobs registered late, connections closed) must be in children.
        note = ("%s hooks are registered: job children are forked by the worker itself, "
                "after the hooks ran (no fork server)" % " and ".join(hooked))
    elif not (config.no_fork_server or config.jobs_per_child > 1):
        from forkq.proc.forkserver import ForkServer
        return ForkServer.start(
            lambda box: Context(box, config.timeout, None, titles, 1), titles), None, None
    from forkq.proc.guard import Guard
    return None, Guard.start(titles), note


def load_commands():
    """Register the admin commands on `cli` (here, not at the top: they import this module)."""
    from forkq.cli import admin, failed, info, pool, queues, web  # noqa: F401
    from forkq.cli import delayed, schedule, scheduler  # noqa: F401


def main():
    load_commands()
    try:
        cli(prog_name="forkq")
    except Exception as exc:
        import redis  # only now: `work` must not load redis-py before its fork server starts
        if not isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
            raise
        click.echo("forkq: cannot reach Redis: %s" % exc, err=True)
        sys.exit(ExitCode.UNAVAILABLE)


if __name__ == "__main__":
    main()
