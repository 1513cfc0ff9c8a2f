"""The `forkq` command: a thin click layer over Config. `work` runs a worker; the admin
commands live in forkq.admin, forkq.browse and forkq.failedcmd and register themselves on
the same group (load_commands)."""
import importlib
import importlib.util
import os
import sys

import click

from . import __version__
from .config import OPTIONS, Config, ConfigError
from .errors import ExitCode


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
        from .daemon import daemonize
        daemonize()
    server = start_fork_server(config)
    from .daemon import pidfile
    from .worker import Worker  # imports redis-py: only after the fork server is forked
    with pidfile(config.pidfile):
        code = Worker(config, forkserver=server).work()
    sys.exit(int(code))


def start_fork_server(config):
    """Fork the lean process that forks job children (see forkq.forkserver), unless asked not
    to or a child takes several jobs (then fork cost is spread over them anyway)."""
    if config.no_fork_server or config.jobs_per_child > 1:
        return None
    from .child import Context
    from .forkserver import ForkServer
    from .observe import Titles
    titles = Titles(config.procline_prefix)
    return ForkServer.start(
        lambda box: Context(box, config.timeout, None, titles, 1), titles)


def load_commands():
    """Register the admin commands on `cli` (here, not at the top: they import this module)."""
    from . import admin, browse, failedcmd  # noqa: F401


def main():
    load_commands()
    cli(prog_name="forkq")


if __name__ == "__main__":
    main()
