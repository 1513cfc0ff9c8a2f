"""Jobs the scheduler tests register (`-r schedjobs`): a default queue for items without one."""
import forkq


@forkq.job(name="Delayed::Defaulted", queue="defaulted")
def defaulted(*args):
    pass
