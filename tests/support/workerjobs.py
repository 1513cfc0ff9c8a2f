"""Jobs the integration tests run in the real worker (imported with `-r workerjobs`).

Each reports through Redis lists under `test:` on the suite's server (FORKQ_TEST_REDIS_URL),
so tests wait on BLPOP instead of sleeping.
"""
import ctypes
import json
import os
import signal
import time

import redis

import forkq

_client = None


def client():
    global _client
    if _client is None or _client.connection_pool.pid != os.getpid():
        _client = redis.Redis.from_url(os.environ["FORKQ_TEST_REDIS_URL"])
    return _client


def mark(key, **fields):
    fields.setdefault("pid", os.getpid())
    client().rpush(key, json.dumps(fields))


@forkq.job(name="Record")
def record(*args):
    mark("test:done", job="Record", args=list(args))


@forkq.job(name="Mailers::Signup")
def signup(user_id, options=None):
    mark("test:done", job="Mailers::Signup", args=[user_id, options])


@forkq.job(name="Fail")
def fail(message):
    raise ValueError(message)


@forkq.job(name="Sleep")
def sleep(seconds, tag="sleep"):
    mark("test:started", tag=tag)
    time.sleep(seconds)
    mark("test:done", job="Sleep", tag=tag)


@forkq.job(name="QuickTimeout", timeout=1)
def quick_timeout(seconds):
    mark("test:started", tag="quick")
    time.sleep(seconds)


@forkq.job(name="Exit")
def exit_with(code):
    os._exit(code)


@forkq.job(name="Kill")
def kill_self(signame):
    os.kill(os.getpid(), getattr(signal, signame))


@forkq.job(name="Segfault")
def segfault():
    ctypes.string_at(0)


@forkq.job(name="SwallowTimeout", timeout=1)
def swallow_timeout():
    mark("test:started", tag="swallow")
    for _ in range(10):
        try:
            time.sleep(10)
        except Exception:  # JobTimeout is a BaseException: this cannot catch it
            pass


@forkq.job(name="Stubborn", timeout=1)
def stubborn():
    """Ignores SIGALRM and SIGTERM and blocks: only the parent's KILL ends it."""
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    mark("test:started", tag="stubborn")
    while True:
        time.sleep(0.05)


@forkq.job(name="BlockInC", timeout=1)
def block_in_c():
    """Blocks in a C call with signals masked: the alarm cannot run Python code."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})
    mark("test:started", tag="c")
    libc = ctypes.CDLL(None)
    libc.sleep(60)


@forkq.job(name="Grandchild", timeout=1)
def grandchild():
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(0.1)
    mark("test:started", tag="grandchild", grandchild=pid)
    time.sleep(60)


@forkq.job(name="Hog")
def hog(megabytes):
    # Report first: the memory guard may end this child before an allocation finishes.
    mark("test:started", tag="hog")
    block = bytearray(megabytes * 1048576)
    for i in range(0, len(block), 4096):
        block[i] = 1
    mark("test:hogging", tag="hog", megabytes=megabytes)
    time.sleep(30)


class Hooked:
    """A class job with Resque-style hooks; every hook leaves a trace."""

    @staticmethod
    def before_perform_a(*args):
        mark("test:hooks", hook="before_perform_a")

    @staticmethod
    def around_perform_b(inner, *args):
        mark("test:hooks", hook="around_perform_b:before")
        inner()
        mark("test:hooks", hook="around_perform_b:after")

    @staticmethod
    def after_perform(*args):
        mark("test:hooks", hook="after_perform")

    @staticmethod
    def on_failure(exc, *args):
        mark("test:hooks", hook="on_failure", error=str(exc))

    @staticmethod
    def perform(should_fail=False):
        mark("test:hooks", hook="perform")
        if should_fail:
            raise RuntimeError("hooked failure")


forkq.job(name="Hooked")(Hooked)


class Skipped:
    @staticmethod
    def before_perform(*args):
        raise forkq.DontPerform()

    @staticmethod
    def perform(*args):
        mark("test:done", job="Skipped")


forkq.job(name="Skipped")(Skipped)


@forkq.hooks.after_fork
def _after_fork(job):
    if job.class_name == "AfterForkProbe":
        mark("test:hooks", hook="after_fork", queue=job.queue)


@forkq.job(name="AfterForkProbe")
def after_fork_probe():
    mark("test:done", job="AfterForkProbe")


@forkq.job(name="Chaos")
def chaos(job_id, sleep_ms=0):
    if sleep_ms:
        time.sleep(sleep_ms / 1000.0)
    client().rpush("test:chaos", job_id)


@forkq.job(name="SleepFile")
def sleep_file(path, seconds):
    """Reports without Redis, so it can finish while Redis is down."""
    with open(path + ".started", "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(seconds)
    with open(path, "w") as fh:
        fh.write("done")


@forkq.job(name="Orphans")
def orphans(seconds):
    """Leaves a process behind whose parent is gone: it is re-parented to init (PID 1)."""
    middle = os.fork()
    if middle == 0:
        orphan = os.fork()
        if orphan == 0:
            time.sleep(seconds)
            os._exit(0)
        mark("test:orphan", orphan=orphan)
        os._exit(0)
    os.waitpid(middle, 0)  # the orphan's parent is gone: it is re-parented to init
    mark("test:done", job="Orphans")
