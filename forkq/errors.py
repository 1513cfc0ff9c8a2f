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


class RedisUnavailable(ConnectionError):
    """forkq.enqueue (or dequeue) could not reach Redis; the message names the URL, redacted,
    and where it came from. The redis-py error is its __cause__."""


class DirtyExit(Exception):
    """What a job's on_failure hooks and its retry_on/give_up_on see when its child died
    without reporting (killed, out of memory, crashed, --max-child-rss): Resque::DirtyExit.
    The `failed` entry keeps Resque's name (DIRTY_EXIT)."""


class PruneDeadWorkerDirtyExit(DirtyExit):
    """The job's worker died and another worker pruned it (Resque's name, too)."""


for _cls in (JobTimeout, DontPerform, UnknownJob, InvalidPayload, NoQueueError,
             RedisUnavailable, DirtyExit, PruneDeadWorkerDirtyExit):
    _cls.__module__ = "forkq"


def exception_name(exc_or_cls):
    """`ValueError`, `myapp.jobs.Oops`, `forkq.JobTimeout`: Resque's `exception` field."""
    cls = exc_or_cls if isinstance(exc_or_cls, type) else type(exc_or_cls)
    if cls.__module__ in ("builtins", "__builtin__"):
        return cls.__qualname__
    return "%s.%s" % (cls.__module__, cls.__qualname__)


class ExitCode(enum.IntEnum):
    """How forkq processes end. Parent codes follow sysexits where one fits; what each means is
    EXIT_MEANINGS below (the man pages and README are generated from it or checked against it).
    """
    OK = 0
    USAGE = 2
    JOB_FAILED = 10
    JOB_TIMED_OUT = 11
    REPORT_LOST = 12
    PARENT_GONE = 13
    CHILD_ERROR = 14
    UNAVAILABLE = 69
    SOFTWARE = 70
    CONFIG = 78


EXIT_MEANINGS = {
    ExitCode.OK: "parent: stopped as asked; child: job done or skipped by a hook",
    ExitCode.USAGE: "bad command line (click's usage error)",
    ExitCode.JOB_FAILED: "child: the job raised; its report carries the exception",
    ExitCode.JOB_TIMED_OUT: "child: forkq.JobTimeout fired and was reported",
    ExitCode.REPORT_LOST: "child: could not write its report (the parent is gone)",
    ExitCode.PARENT_GONE: "child: the parent died before the job started",
    ExitCode.CHILD_ERROR: "child: forkq itself failed in the child; the parent records it",
    # One meaning for every command: a worker without --burst never gives up on Redis (it
    # waits, retrying), so only a --burst worker and the admin commands can end this way.
    ExitCode.UNAVAILABLE: "Redis could not be reached: a --burst worker gave up after 10 s "
                          "(without --burst a worker waits for Redis), or an admin command "
                          "could not connect; the message names the redacted URL and where "
                          "it came from",
    ExitCode.SOFTWARE: "parent: an internal error ended the worker (logged, unregistered)",
    ExitCode.CONFIG: "bad configuration: no queues, an unusable option or --redis-url, a "
                     "duration that is negative, NaN or infinite, a --require that fails",
}


CHILD_CODES = {c.value: c for c in (ExitCode.OK, ExitCode.JOB_FAILED, ExitCode.JOB_TIMED_OUT,
                                    ExitCode.REPORT_LOST, ExitCode.PARENT_GONE,
                                    ExitCode.CHILD_ERROR)}
