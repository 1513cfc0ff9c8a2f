"""Worker hooks that run before forks (imported with `-r hooks_w2`): what they set up must be
in the job's child. Kept apart from jobs_w2, since registering them changes how forkq forks."""
import os

from workerjobs import mark

import forkq

PRELOADED = None
BEFORE_FORK_PID = None


@forkq.hooks.before_first_fork
def _preload():
    global PRELOADED
    PRELOADED = "preloaded in %d" % os.getpid()

    @forkq.job(name="W2::HookProbe")  # a job registered late: the child must know it too
    def hook_probe():
        mark("test:done", job="W2::HookProbe", preloaded=PRELOADED,
             before_fork_pid=BEFORE_FORK_PID, ppid=os.getppid())


@forkq.hooks.before_fork
def _before_fork(job):
    global BEFORE_FORK_PID
    BEFORE_FORK_PID = os.getpid()
