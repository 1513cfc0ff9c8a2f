"""forkq's exceptions and the names its failure records use.

A failure's `exception` field is the Python class name as `module.QualName` (builtins bare).
The records the worker writes about a child it saw die, and the prune records, keep Resque's own
names, since Ruby tooling and resque-web users already filter on them.
"""
import enum

DIRTY_EXIT = "Resque::DirtyExit"
PRUNE_DIRTY_EXIT = "Resque::PruneDeadWorkerDirtyExit"


class JobTimeout(BaseException):
    """Raised inside a job when its time is up. A BaseException, so `except Exception` in job
    code cannot swallow it (rq's timeout can be swallowed that way)."""


class DontPerform(Exception):
    """Raised by a before_perform hook to skip the job quietly: not a failure (Resque's
    Resque::Job::DontPerform)."""


class UnknownJob(LookupError):
    """A payload names a job no module registered; forkq never imports a name from a payload."""


class InvalidPayload(ValueError):
    """A queue entry that cannot be run (not JSON, not an object, no class, args not a list).
    `is_object`: the entry is a JSON object, so failure records can keep it as it is."""

    def __init__(self, message, is_object=False):
        super().__init__(message)
        self.is_object = is_object


class NoQueueError(ValueError):
    """Enqueue without a queue and a job with no default queue."""


class DirtyExit(Exception):
    """What a job's on_failure hooks and its retry_on/give_up_on see when its child died
    without reporting (killed, out of memory, crashed, --max-child-rss): Resque::DirtyExit.
    The `failed` entry keeps Resque's name (DIRTY_EXIT)."""


class PruneDeadWorkerDirtyExit(DirtyExit):
    """The job's worker died and another worker pruned it (Resque's name, too)."""


for _cls in (JobTimeout, DontPerform, UnknownJob, InvalidPayload, NoQueueError, DirtyExit,
             PruneDeadWorkerDirtyExit):
    _cls.__module__ = "forkq"


def exception_name(exc_or_cls):
    """`ValueError`, `myapp.jobs.Oops`, `forkq.JobTimeout`: Resque's `exception` field."""
    cls = exc_or_cls if isinstance(exc_or_cls, type) else type(exc_or_cls)
    if cls.__module__ in ("builtins", "__builtin__"):
        return cls.__qualname__
    return "%s.%s" % (cls.__module__, cls.__qualname__)


class ExitCode(enum.IntEnum):
    """How forkq processes end. Parent codes follow sysexits where one fits."""
    OK = 0                 # parent: stopped as asked; child: job done (or skipped by a hook)
    JOB_FAILED = 10        # child: the job raised; the report says what
    JOB_TIMED_OUT = 11     # child: JobTimeout fired and was reported
    REPORT_LOST = 12       # child: could not write its report (the parent is gone)
    PARENT_GONE = 13       # child: the parent died before the job started
    CHILD_ERROR = 14       # child: forkq itself failed in the child (a bug); parent records it
    USAGE = 2              # parent: bad command line (click's own code)
    UNAVAILABLE = 69       # parent: Redis could not be reached at start-up
    SOFTWARE = 70          # parent: an internal error ended the worker (logged, unregistered)
    CONFIG = 78            # parent: bad configuration (no queues, --require failed, ...)


CHILD_CODES = {c.value: c for c in (ExitCode.OK, ExitCode.JOB_FAILED, ExitCode.JOB_TIMED_OUT,
                                    ExitCode.REPORT_LOST, ExitCode.PARENT_GONE,
                                    ExitCode.CHILD_ERROR)}
