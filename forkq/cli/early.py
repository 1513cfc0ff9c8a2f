"""What `forkq` does before click is imported: hide URLs in the title, and for `forkq work`,
import the app and fork the fork server.

Fork cost follows what the forking process holds, and every module that registers an at-fork
handler runs Python in each child it forks. click imports threading (click.globals), whose
handler alone costs a no-op job's child ~140 page faults and ~0.35 ms of CPU (measured), more
than all of click's memory. So `forkq work` reads its command line here first, with the same
OPTIONS table and Config.load that click's options are built from; if it is sure of every
argument, it imports the --require modules and forks the server now, then click parses the
command line as always. forkq.cli.app.work takes the server only if click's Config is equal
to the one read here; otherwise it stops it and starts over (a safety net: the two readings
agree on every command line this reader accepts). Anything it is not sure of (an unknown
option, a bad value, --help, --background, no fork server wanted) leaves it all to click.
"""
import sys

_early = {}  # "config" once the app was imported here; "server" once it was forked too


def hide_secrets_in_title(argv):
    """Retitle the process with every URL in argv redacted, before anything slow runs: a
    `user:pw@` URL given on the command line is readable in `ps` until then. (Better still:
    --redis-url-file or FORKQ_REDIS_URL, which never reach argv.)"""
    from forkq.config import redact_url

    def hide(arg):
        flag, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        return flag + eq + redact_url(value) if "://" in value else arg

    shown = [hide(arg) for arg in argv]
    if shown != list(argv):
        from forkq.proc.titles import setproctitle
        setproctitle(" ".join(shown))


def read_options(args):
    """`forkq work`'s arguments → {option name: value} as click gives them, or None if any
    argument is not plainly one of OPTIONS (click then decides alone)."""
    from forkq.config import OPTIONS
    by_flag = {flag: opt for opt in OPTIONS for flag in opt.flags}
    values = {}
    args = list(args)
    while args:
        arg = args.pop(0)
        if arg.startswith("--"):
            flag, eq, value = arg.partition("=")
        elif arg.startswith("-") and len(arg) >= 2:
            flag, value = arg[:2], arg[2:]
            eq = "=" if value else ""
        else:
            return None  # work takes no arguments; click says so
        opt = by_flag.get(flag)
        if opt is None or flag in ("-h", "--help"):
            return None
        if opt.kind == "bool":
            if eq:
                return None
            values[opt.name] = True
            continue
        if not eq:
            if not args:
                return None
            value = args.pop(0)
        values[opt.name] = values.get(opt.name, ()) + (value,) if opt.kind == "list" \
            else value
    return values


def start_work(argv):
    """For `forkq work …`: import the app and fork the fork server now, if sure (above)."""
    if argv[:1] != ["work"]:
        return
    values = read_options(argv[1:])
    if values is None:
        return
    from forkq.config import Config, ConfigError
    try:
        config = Config.load(values, need_queues=True)
    except ConfigError:
        return
    if config.no_fork_server or config.jobs_per_child > 1 or config.background:
        return
    from forkq.proc.titles import Titles
    titles = Titles(config.procline_prefix)
    titles.starting()  # before the app's import: argv is hidden
    from forkq.cli.requires import import_jobs
    import_jobs(config.requires)
    _early["config"] = config
    from forkq.api import hooks
    if any(hooks.registered(name) for name in ("before_first_fork", "before_fork")):
        return  # forkq.cli.app.start_forker says why no fork server
    from forkq.proc.child import Context
    from forkq.proc.forkserver import ForkServer
    server = ForkServer.start(lambda box: Context(box, config.timeout, None, titles, 1),
                              titles)
    _early["server"] = server


def imported(config):
    """Were this Config's --require modules imported here already?"""
    return _early.get("config") == config


def take_server(config):
    """The fork server forked here, if it was forked for this same Config (else stopped)."""
    server = _early.pop("server", None)
    if server is not None and _early.get("config") != config:
        server.stop()
        return None
    return server


def main():
    """The `forkq` command."""
    hide_secrets_in_title(sys.argv)
    start_work(sys.argv[1:])
    from forkq.cli.app import main as click_main
    click_main()
