"""forkq: a forking Python worker that speaks Resque's Redis protocol.

    import forkq

    @forkq.job(name="Mailers::Signup", queue="mail", timeout=30)
    def signup(user_id):
        ...

    forkq.enqueue("Mailers::Signup", 42)       # what Ruby's Resque.enqueue writes

Run the jobs with `forkq work --queues mail,default --require myapp.jobs`.
"""
__version__ = "0.1.0"

from forkq.api import hooks  # noqa: E402
from forkq.api.enqueue import Producer, connect, dequeue, enqueue  # noqa: E402
from forkq.api.registry import job, lookup, registered
from forkq.errors import (  # noqa: E402
    DontPerform,
    JobTimeout,
    NoQueueError,
    RedisUnavailable,
    UnknownJob,
)

__all__ = ["job", "enqueue", "dequeue", "connect", "lookup", "registered", "Producer", "hooks",
           "JobTimeout", "DontPerform", "UnknownJob", "NoQueueError", "RedisUnavailable",
           "__version__"]
from forkq.api.delayed import (delayed_count, enqueue_at, enqueue_in,  # noqa: E402
                               remove_delayed, scheduled_at)

__all__ += ["enqueue_at", "enqueue_in", "remove_delayed", "scheduled_at", "delayed_count"]
# what on_failure hooks and retry_on see for a child that died, or a worker that did
from forkq.errors import DirtyExit, PruneDeadWorkerDirtyExit  # noqa: E402

__all__ += ["DirtyExit", "PruneDeadWorkerDirtyExit"]
