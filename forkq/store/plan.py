"""What a reserve is asked (the queue plan) and what it answers (a job, idle, paused)."""
from forkq import wire


class Reserved:
    """A job popped and claimed: its queue, its raw bytes exactly as popped, and the sha1 of
    the worker:<id> claim written for it."""
    __slots__ = ("queue", "raw", "claim_sha")

    def __init__(self, queue, raw, claim_sha):
        self.queue = queue
        self.raw = raw
        self.claim_sha = claim_sha


class Idle:
    __slots__ = ("queues",)

    def __init__(self, queues):
        self.queues = queues


PAUSED = object()


class QueuePlan:
    """The queue list as the reserve script takes it: static names, or Lua glob patterns."""

    def __init__(self, configured):
        self.configured = tuple(configured)
        self.dynamic = wire.is_dynamic(self.configured)
        if not self.dynamic:
            self.argv = ("0",) + self.configured
            return
        includes = [q for q in self.configured if not q.startswith("!")]
        excludes = [q[1:] for q in self.configured if q.startswith("!")]
        args = ["1", str(len(includes))]
        for pattern in includes + excludes:
            args += [wire.glob_to_lua(pattern), wire.glob_dot_flag(pattern)]
        self.argv = tuple(args)

    def static_names(self):
        return list(self.configured) if not self.dynamic else None
