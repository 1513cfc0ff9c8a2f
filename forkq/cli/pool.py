"""The `forkq pool` command: its options, then forkq.proc.pool does the work."""
import sys

import click



@click.command(context_settings={"ignore_unknown_options": True})
@click.option("-w", "--workers", "sets", multiple=True, envvar="FORKQ_POOL_WORKERS",
              metavar="QUEUES=N", help="Run N workers on QUEUES; repeatable. "
                                       "[env: FORKQ_POOL_WORKERS]")
@click.option("-n", "--count", type=int, default=None, envvar="FORKQ_POOL_COUNT",
              help="With -q: run this many workers on those queues. [env: FORKQ_POOL_COUNT]")
@click.option("-q", "--queues", default=None, envvar="FORKQ_POOL_QUEUES", metavar="Q[,Q...]",
              help="The queue set for -n. [env: FORKQ_POOL_QUEUES]")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False),
              envvar="FORKQ_POOL_CONFIG", help="File of QUEUES = COUNT lines; HUP re-reads "
                                               "it. [env: FORKQ_POOL_CONFIG]")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              envvar=["FORKQ_POOL_LOG_FORMAT", "FORKQ_LOG_FORMAT"],
              help="The pool's own lines on stderr: text, or one JSON object per line (the "
                   "workers take theirs from their own options). "
                   "[env: FORKQ_POOL_LOG_FORMAT, FORKQ_LOG_FORMAT]")
@click.argument("work_args", nargs=-1, type=click.UNPROCESSED)
def pool(sets, count, queues, config_path, log_format, work_args):
    """Run several `forkq work` processes on this host and keep them running.

    Options after the pool's own (or after --) go to every worker, e.g.
    `forkq pool -n 4 -q critical,default -- --require myapp.jobs`."""
    from forkq.log import EventLog
    from forkq.proc.pool import Pool, PoolConfigError, parse_sets, read_config
    try:
        wanted = parse_sets(sets)
        if count is not None or queues:
            if count is None or not queues:
                raise PoolConfigError("-n and -q go together: -n 4 -q critical,default")
            wanted.update(parse_sets(["%s=%d" % (queues, count)]))
        if config_path:
            wanted.update(read_config(config_path))
    except (OSError, PoolConfigError) as exc:
        raise click.UsageError(str(exc))
    if not wanted:
        raise click.UsageError("say which workers to run: -n 2 -q default, -w default=2, "
                               "or -c FILE")
    log = EventLog(fmt=log_format, verbose=True)
    sys.exit(Pool(wanted, work_args, config_path, log=log).run())
