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
