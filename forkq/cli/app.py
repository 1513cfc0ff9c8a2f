"""The `forkq` command: a thin click layer over Config, as a lazy group.

`forkq work` imports only what its fork server may inherit (no redis-py, no psutil: children
fork from a lean process); every other command lives in its own module, named in COMMANDS and
imported only when that command runs (or for --help and the man pages). To add a command, add
one line to COMMANDS: its name and the module that defines a click command of that name.
"""
import importlib
import sys

import click

from forkq import __version__
from forkq.api import hooks
from forkq.cli import early
from forkq.cli.common import (  # noqa: F401 (click_option, import_jobs: for other commands)
    click_option,
    config_options,
    import_jobs,
    load_config,
)
from forkq.errors import ExitCode

# name -> "module" (the command is the module's attribute of the same name, dashes as
# underscores) or "module:attribute". `work` is defined below.
COMMANDS = {
    "delayed": "forkq.cli.delayed",
    "enqueue": "forkq.cli.admin",
    "failed": "forkq.cli.failed",
    "info": "forkq.cli.info",
    "metrics": "forkq.cli.web",
    "pause": "forkq.cli.admin",
    "pool": "forkq.cli.pool",
    "prune": "forkq.cli.admin",
    "queues": "forkq.cli.queues",
    "resume": "forkq.cli.admin",
    "schedule": "forkq.cli.schedule",
    "scheduler": "forkq.cli.scheduler",
    "stats": "forkq.cli.queues",
    "web": "forkq.cli.web",
    "workers": "forkq.cli.info",
}

_click_option = click_option  # the name other modules used before the layout


class LazyGroup(click.Group):
    """Imports a command's module only when the command is asked for."""

    def get_command(self, ctx, name):
        if name not in self.commands and name in COMMANDS:
            where = COMMANDS[name]
            module_name, _, attr = where.partition(":")
            module = importlib.import_module(module_name)
            if name not in self.commands:  # a module may also register itself with @cli.command
                self.add_command(getattr(module, attr or name.replace("-", "_")), name)
        if name not in self.commands:
            load_commands()  # a command registered only by import (see load_commands)
        return self.commands.get(name)

    def list_commands(self, ctx):
        load_commands()
        return sorted(self.commands)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
@click.version_option(__version__, prog_name="forkq")
def cli():
    """forkq: a forking Python worker that speaks Resque's Redis protocol."""


def load_commands():
    """Every command on `cli` (for --help, the man pages and the tests)."""
    for name in COMMANDS:
        if name not in cli.commands:
            cli.get_command(None, name)


@cli.command()
@config_options
def work(**values):
    """Reserve jobs from the queues and perform each in a forked child."""
    config = load_config(values, need_queues=True)
    if not early.imported(config):
        from forkq.proc.titles import Titles
        Titles(config.procline_prefix).starting()  # before the app's import: argv is hidden
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
        server = early.take_server(config)  # forked before click was imported
        if server is not None:
            return server, None, None
        from forkq.proc.forkserver import ForkServer
        return ForkServer.start(
            lambda box: Context(box, config.timeout, None, titles, 1), titles), None, None
    from forkq.proc.guard import Guard
    return None, Guard.start(titles), note


def main():
    from forkq.config import ConfigError
    try:
        cli(prog_name="forkq")
    except ConfigError as exc:  # an admin command's Redis URL, say
        click.echo("forkq: %s" % exc, err=True)
        sys.exit(ExitCode.CONFIG)
    except Exception as exc:
        import redis  # only now: `work` must not load redis-py before its fork server starts
        if not isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
            raise
        click.echo("forkq: %s" % unreachable(exc), err=True)
        sys.exit(ExitCode.UNAVAILABLE)


def unreachable(exc):
    """"cannot reach Redis at URL (from SOURCE): why", the URL redacted."""
    from forkq.cli.common import loaded
    from forkq.config import Config, ConfigError, redact_url
    config = loaded[-1] if loaded else None
    if config is None:
        try:
            config = Config.load({})
        except ConfigError:
            return "cannot reach Redis: %s" % exc
    return "cannot reach Redis at %s (URL from %s): %s" % (
        redact_url(config.redis_url), config.redis_url_source, exc)


if __name__ == "__main__":
    main()
