"""`forkq scheduler`: run the scheduler process (moves due delayed jobs, fires schedules)."""
import sys

from forkq.cli.app import _click_option, cli, import_jobs, load_config
from forkq.config import option

OPTION_NAMES = ("redis_url", "namespace", "requires", "scheduler_interval", "lock_timeout",
                "lock_prefix", "delayed_batch_size", "pidfile", "verbose", "log_format",
                "procline_prefix")


def scheduler_options(fn):
    for name in reversed(OPTION_NAMES):
        fn = _click_option(option(name))(fn)
    return fn


def default_queue(name):
    """The queue a registered job (--require) names, for delayed items without one."""
    from forkq.api import registry
    spec = registry.lookup(name)
    return spec.queue if spec else None


@cli.command("scheduler")
@scheduler_options
def scheduler(**values):
    """Move due delayed jobs to their queues and fire recurring schedules.

    Does what resque-scheduler does, on its keys. Any number may run: one is master by
    resque-scheduler's own lock (Ruby's schedulers and forkq's exclude each other); the
    others stand by.

    A delayed item without a "queue" goes to the queue its job's --require'd registration
    names; with none, to `failed` with a clear error (never dropped)."""
    config = load_config(values)
    import_jobs(config.requires)
    from forkq.log import EventLog
    from forkq.proc.daemon import pidfile
    from forkq.scheduler.process import SchedulerProcess
    from forkq.store.client import connect

    log = EventLog(config.log_format, config.verbose)
    with pidfile(config.pidfile):
        code = SchedulerProcess(config, connect(config.redis_url), log, default_queue).run()
    sys.exit(int(code))
