"""Automatic retries with the real worker and a real Redis: every way a job fails is retried
through resque-scheduler's delayed set, counted in resque-retry's key, and ends either done
(no key left) or in exactly one `failed` entry after the last attempt."""
import json
import signal
import subprocess
import sys
import time

import jobs_retry  # noqa: F401  (registers the jobs here too: their queues and options)
import pytest
from harness import (SUPPORT, enqueue_raw, failures, pop, registered_id, wait_until,
                     worker_env)

from forkq.wire import retry_keys

# the worker moves due delayed jobs itself (forkq work --scheduler: the real mover)
WORKER = ("-q", "retry", "-r", "jobs_retry", "--interval", "0.2", "--scheduler",
          "--scheduler-interval", "0.2")
ALONE = WORKER[:6]  # no scheduler anywhere


def runs(r, tag):
    return [json.loads(x) for x in r.lrange("test:runs:%s" % tag, 0, -1)]


def enqueue(url, job, *args):
    from forkq.api.enqueue import Producer
    import redis
    client = redis.Redis.from_url(url)
    try:
        return Producer(client, "resque").enqueue(job, *args)
    finally:
        client.close()


def counter_key(job, *args):
    return "resque:" + retry_keys.retry_key(job, list(args))


@pytest.mark.parametrize("job", ["FlakyRaise", "FlakyTimeout", "FlakyKill"])
def test_fails_twice_then_succeeds(r, url, spawn_worker, job):
    worker = spawn_worker(*WORKER)
    tag = job.lower()
    enqueue(url, job, tag, 2)
    done = pop(r, "test:done", timeout=20)
    assert done["tag"] == tag
    assert [run["n"] for run in runs(r, tag)] == [1, 2, 3]
    wid = registered_id(r, worker.pid)
    wait_until(lambda: r.get("resque:worker:" + wid) is None, message="done_working")
    assert failures(r) == []
    assert not r.exists(counter_key(job, tag, 2))
    assert not r.exists("resque:failure-" + retry_keys.retry_key(job, [tag, 2]))
    assert int(r.get("resque:stat:processed")) == 3
    # timeouts and exceptions count in stat:failed as Resque counts them; a DirtyExit does not
    assert int(r.get("resque:stat:failed") or 0) == (0 if job == "FlakyKill" else 2)
    assert r.zcard("resque:delayed_queue_schedule") == 0
    if job == "FlakyKill":  # the child could not run its on_failure hook: the parent did
        hooks = [json.loads(x) for x in r.lrange("test:hook:%s" % tag, 0, -1)]
        assert [h["exception"] for h in hooks] == ["DirtyExit", "DirtyExit"]
        assert {h["pid"] for h in hooks} == {worker.pid}
        assert all("SIGKILL" in h["error"] for h in hooks)


def test_a_timeout_the_parent_enforces_is_retried_and_hooked_by_the_parent(r, url,
                                                                         spawn_worker):
    worker = spawn_worker(*WORKER, "--grace", "0.1", "--term-timeout", "0.2")
    enqueue(url, "StubbornOnce", "s")
    assert pop(r, "test:done", timeout=15)["tag"] == "s"
    assert len(runs(r, "s")) == 2
    [hook] = [json.loads(x) for x in r.lrange("test:hook:s", 0, -1)]
    assert hook["exception"] == "JobTimeout" and hook["pid"] == worker.pid
    assert "timed out" in hook["error"]  # retry_on=JobTimeout matched what the parent saw


def test_always_failing_job_gives_up_once_after_the_documented_delays(r, url, spawn_worker):
    spawn_worker(*WORKER)
    enqueue(url, "AlwaysFail", "af")
    wait_until(lambda: r.llen("resque:failed") == 1, timeout=20, message="the give-up")
    attempts = runs(r, "af")
    assert [a["n"] for a in attempts] == [1, 2, 3]
    gaps = [b["at"] - a["at"] for a, b in zip(attempts, attempts[1:])]
    for gap, documented in zip(gaps, [1, 2]):  # backoff=[1, 2]
        assert abs(gap - documented) < 1.0, gaps
    [entry] = failures(r)
    assert entry["exception"] == "ValueError"
    assert entry["error"] == "attempt 3 of af failed"
    assert entry["attempts"] == 3
    assert entry["payload"] == {"class": "AlwaysFail", "args": ["af"]}
    assert list(entry)[:7] == ["failed_at", "payload", "exception", "error", "backtrace",
                               "worker", "queue"]
    assert not r.exists(counter_key("AlwaysFail", "af"))
    assert int(r.get("resque:stat:failed")) == 3
    time.sleep(0.3)
    assert r.llen("resque:failed") == 1 and len(runs(r, "af")) == 3


def test_pending_retry_is_resque_retrys_state(r, url, spawn_worker):
    """No scheduler runs: the retry waits in the delayed set, with the counter, the
    suppression record and nothing in `failed`; `forkq info` shows it; the worker said at
    start-up that retries wait on a scheduler."""
    worker = spawn_worker(*ALONE)
    enqueue(url, "WaitLong", "w")
    pop(r, "test:runs:w")
    key = counter_key("WaitLong", "w")
    wait_until(lambda: r.zcard("resque:delayed_queue_schedule") == 1, message="the retry")
    assert r.get(key) == b"0"
    [stamp] = r.zrange("resque:delayed_queue_schedule", 0, -1, withscores=True)
    assert abs(stamp[1] - (time.time() + 60)) <= 1.5
    assert r.lrange("resque:delayed:%d" % stamp[1], 0, -1) == \
        [b'{"class":"WaitLong","args":["w"],"queue":"retry"}']
    assert r.smembers(b'resque:timestamps:{"class":"WaitLong","args":["w"],"queue":"retry"}') \
        == {b"delayed:%d" % stamp[1]}
    assert r.llen("resque:failed") == 0
    assert int(r.get("resque:stat:failed")) == 1 and int(r.get("resque:stat:processed")) == 1
    suppressed = json.loads(r.get("resque:failure-" + retry_keys.retry_key("WaitLong", ["w"])))
    assert suppressed["error"] == "down for now" and "UTC" not in suppressed["failed_at"]
    assert 119 <= r.ttl("resque:failure-" + retry_keys.retry_key("WaitLong", ["w"])) <= 120
    info = subprocess.run([sys.executable, "-m", "forkq", "info", "--json", "--redis-url", url],
                          env=worker_env(url), cwd=SUPPORT, capture_output=True, text=True)
    data = json.loads(info.stdout)
    assert data["retrying"] == 1
    assert data["retrying_jobs"] == [{"class": "WaitLong", "attempts": 1,
                                      "last_error": "RuntimeError: down for now"}]
    assert worker.log.count("no scheduler is running") == 1


def test_no_warning_while_a_scheduler_holds_the_master_lock(r, spawn_worker):
    r.set("resque:resque:resque_scheduler_master_lock", "otherhost:1", ex=30)
    worker = spawn_worker(*ALONE)
    registered_id(r, worker.pid)
    time.sleep(0.3)
    assert "no scheduler" not in worker.log


def test_retry_on_and_give_up_on(r, url, spawn_worker):
    spawn_worker(*WORKER)
    for tag, kind in (("a", "refused"), ("b", "reset"), ("c", "value")):
        enqueue(url, "FailOnly", tag, kind)
    wait_until(lambda: r.llen("resque:failed") == 3, timeout=15, message="three give-ups")
    # refused: a ConnectionError, retried 5 times (delay 0: straight back to the queue);
    # reset: a ConnectionError too, but give_up_on wins; value: not in retry_on
    assert [len(runs(r, t)) for t in "abc"] == [6, 1, 1]
    assert sorted(e["attempts"] for e in failures(r)) == [1, 1, 6]


def test_a_count_a_ruby_worker_left_is_continued(r, url, spawn_worker):
    """Ruby's resque-retry ran attempts 0-3 of this job and queued the retry: forkq's next
    attempt is 4, and with retry=5 the job gives up after attempt 5."""
    r.set(counter_key("FailOnly", "rb", "refused"), 3)
    spawn_worker(*WORKER)
    enqueue(url, "FailOnly", "rb", "refused")
    wait_until(lambda: r.llen("resque:failed") == 1, message="the give-up")
    assert len(runs(r, "rb")) == 2
    assert failures(r)[0]["attempts"] == 6
    assert not r.exists(counter_key("FailOnly", "rb", "refused"))


def test_a_pruned_job_is_retried_by_the_worker_that_prunes(r, url, spawn_worker):
    first = spawn_worker(*WORKER)
    enqueue(url, "SleepFirst", "p")
    pop(r, "test:started")
    wid = registered_id(r, first.pid)
    first.signal(signal.SIGKILL)  # the worker dies; its child follows (parent-death signal)
    first.wait(5)
    r.delete("resque:pruning_dead_workers_in_progress")  # the first one's prune period is over
    second = spawn_worker(*WORKER)  # prunes the dead worker at start-up
    done = pop(r, "test:done", timeout=15)
    assert done["tag"] == "p"
    assert [run["n"] for run in runs(r, "p")] == [1, 2]
    wait_until(lambda: not r.exists(counter_key("SleepFirst", "p")), message="the record")
    assert failures(r) == []
    assert not r.sismember("resque:workers", wid)
    assert "Pruning dead worker" in second.log


def test_the_memory_guard_is_retried(r, url, spawn_worker):
    spawn_worker(*WORKER, "--max-child-rss", "150")
    enqueue(url, "BigFirst", "m")
    done = pop(r, "test:done", timeout=20)
    assert done["tag"] == "m"
    assert len(runs(r, "m")) == 2
    wait_until(lambda: not r.exists(counter_key("BigFirst", "m")), message="the record")
    assert failures(r) == []


def test_args_no_key_can_carry_run_without_the_options(r, url, spawn_worker):
    """A lone surrogate in the JSON (valid JSON, not valid Unicode text) cannot be re-encoded
    for a retry or a key: the job runs as a plain one and the worker goes on."""
    worker = spawn_worker(*WORKER)
    enqueue_raw(r, "retry", '{"class":"FlakyRaise","args":["\\ud800",1]}')
    enqueue(url, "FlakyRaise", "after", 0)
    assert pop(r, "test:done")["tag"] == "after"
    wait_until(lambda: r.llen("resque:failed") == 1, message="the surrogate job's failure")
    assert failures(r)[0]["payload"]["class"] == "FlakyRaise"  # the job's own failure
    assert "cannot be re-encoded" in worker.log and worker.alive()
