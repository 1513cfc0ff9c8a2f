"""Jobs for w2's tests (imported with `-r jobs_w2`); they report through Redis like workerjobs."""
import os
import time

from workerjobs import client, mark

import forkq


@forkq.job(name="W2::Grandchild")
def grandchild(seconds):
    """Starts a process of its own (in the child's process group) and waits."""
    pid = os.fork()
    if pid == 0:
        try:
            time.sleep(seconds)
        finally:
            os._exit(0)
    mark("test:started", tag="grandchild", grandchild=pid)
    time.sleep(seconds)


@forkq.job(name="W2::DieWithOrphan")
def die_with_orphan():
    """Leaves an orphan (re-parented to init) in this child's process group, then kills the
    whole group: the child and the orphan become zombies of init at the same moment."""
    middle = os.fork()
    if middle == 0:
        orphan = os.fork()
        if orphan == 0:
            time.sleep(60)
            os._exit(0)
        mark("test:orphan", orphan=orphan)
        os._exit(0)
    os.waitpid(middle, 0)
    mark("test:child", ready=True)
    client().blpop(["test:go"], timeout=30)  # the test stops the worker first
    os.killpg(0, 9)
