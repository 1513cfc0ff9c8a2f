"""No-op and probe jobs for forkq in the benchmark."""
import time

import forkq


@forkq.job(name="Noop")
def noop(*args):
    pass


@forkq.job(name="Hold")
def hold(seconds):
    time.sleep(seconds)
