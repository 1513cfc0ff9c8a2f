"""Jobs for the retry and unique-job tests (imported with `-r jobs_retry`).

Each counts its own runs in `test:runs:<tag>` (a list of {"n", "at", "pid"}), so a test sees
how many attempts ran and when, and reports through lists as workerjobs does."""
import os
import signal
import time

import forkq
from workerjobs import client, mark


def run_number(tag):
    """1 for the first run of this tag, 2 for the second, ..."""
    n = client().incr("test:count:%s" % tag)
    mark("test:runs:%s" % tag, n=n, at=time.time())
    return n


@forkq.job(name="FlakyRaise", queue="retry", retry=3, backoff=1)
def flaky_raise(tag, fails):
    if run_number(tag) <= fails:
        raise ConnectionError("flaky %s" % tag)
    mark("test:done", job="FlakyRaise", tag=tag)


@forkq.job(name="FlakyTimeout", queue="retry", retry=3, backoff=1, timeout=0.5)
def flaky_timeout(tag, fails):
    if run_number(tag) <= fails:
        time.sleep(30)
    mark("test:done", job="FlakyTimeout", tag=tag)


@forkq.job(name="FlakyKill", queue="retry", retry=3, backoff=1,
           retry_on=(ConnectionError, forkq.DirtyExit))
class FlakyKill:
    @staticmethod
    def perform(tag, fails):
        if run_number(tag) <= fails:
            os.kill(os.getpid(), signal.SIGKILL)
        mark("test:done", job="FlakyKill", tag=tag)

    @staticmethod
    def on_failure_record(exc, tag, fails):
        mark("test:hook:%s" % tag, exception=type(exc).__name__, error=str(exc))


@forkq.job(name="StubbornOnce", queue="retry", retry=2, backoff=0, timeout=0.3,
           retry_on=forkq.JobTimeout)
class StubbornOnce:
    @staticmethod
    def perform(tag):
        if run_number(tag) == 1:  # ignores its alarm and TERM: only the parent's KILL ends it
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                time.sleep(0.05)
        mark("test:done", job="StubbornOnce", tag=tag)

    @staticmethod
    def on_failure_record(exc, tag):
        mark("test:hook:%s" % tag, exception=type(exc).__name__, error=str(exc))


@forkq.job(name="AlwaysFail", queue="retry", retry=2, backoff=[1, 2])
def always_fail(tag):
    n = run_number(tag)
    raise ValueError("attempt %d of %s failed" % (n, tag))


@forkq.job(name="FailOnly", queue="retry", retry=5, backoff=0, retry_on=ConnectionError,
           give_up_on=ConnectionResetError)
def fail_only(tag, kind):
    run_number(tag)
    raise {"reset": ConnectionResetError, "refused": ConnectionRefusedError,
           "value": ValueError}[kind]("%s %s" % (kind, tag))


@forkq.job(name="WaitLong", queue="retry", retry=3, backoff=60)
def wait_long(tag):
    run_number(tag)
    raise RuntimeError("down for now")


@forkq.job(name="SleepFirst", queue="retry", retry=2, backoff=0)
def sleep_first(tag):
    if run_number(tag) == 1:
        mark("test:started", tag=tag)
        time.sleep(60)
    mark("test:done", job="SleepFirst", tag=tag)


@forkq.job(name="BigFirst", queue="retry", retry=2, backoff=0)
def big_first(tag):
    if run_number(tag) == 1:
        hog = bytearray(300 * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        time.sleep(30)
    mark("test:done", job="BigFirst", tag=tag)


# --- unique jobs ---------------------------------------------------------------------------

def _held(tag):
    run_number(tag)
    mark("test:started", tag=tag, at=time.time())
    client().blpop(["test:go:%s" % tag], timeout=30)
    mark("test:done", tag=tag, at=time.time())


@forkq.job(name="UntilExecuting", queue="uniq", unique="until_executing")
def until_executing(tag):
    _held(tag)


@forkq.job(name="UntilExecuted", queue="uniq", unique="until_executed", lock_ttl=2)
def until_executed(tag, outcome="ok"):
    _held(tag)
    if outcome == "raise":
        raise RuntimeError("failed on purpose")
    if outcome == "kill":
        os.kill(os.getpid(), signal.SIGKILL)


@forkq.job(name="UntilExecutedLong", queue="uniq", unique="until_executed", lock_ttl=600)
def until_executed_long(tag):
    _held(tag)


@forkq.job(name="WhileExecuting", queue="uniq", unique="while_executing", lock_ttl=30)
def while_executing(tag):
    run_number(tag)
    mark("test:spans:%s" % tag, edge="start", at=time.time())
    time.sleep(0.6)
    mark("test:spans:%s" % tag, edge="end", at=time.time())
    mark("test:done", tag=tag)


@forkq.job(name="UniqueRetry", queue="uniq", unique="until_executed", retry=1, backoff=0)
def unique_retry(tag):
    if run_number(tag) == 1:
        raise RuntimeError("first try fails")
    mark("test:lock_seen:%s" % tag, locked=bool(client().exists(
        'resque:lock:UniqueRetry:uniq:["%s"]' % tag)))
    mark("test:done", tag=tag)
