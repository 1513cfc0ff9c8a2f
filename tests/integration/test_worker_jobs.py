"""The real `forkq work` performing jobs: payloads, queue order, hooks, failures and deaths."""
import json
import os
import signal
import time

import pytest
from harness import HOST, SUPPORT, burst, enqueue_raw, failures, pop

import forkq
from forkq.api import registry as jobs
from forkq.proc import child


def test_jobs_enqueued_as_ruby_writes_them_are_performed(r, spawn_worker):
    enqueue_raw(r, "default", '{"class":"Mailers::Signup","args":[42,{"plan":"pro","n":1.5}]}')
    enqueue_raw(r, "default", {"class": "Record", "args": ["é", [1, [2]], 2 ** 64]})
    enqueue_raw(r, "default", '{"class":"Record"}')  # Ruby treats missing args as []
    burst(spawn_worker, "-q", "default")
    done = [pop(r, "test:done") for _ in range(3)]
    assert done[0]["args"] == [42, {"plan": "pro", "n": 1.5}]
    assert done[1]["args"] == ["é", [1, [2]], 2 ** 64]
    assert done[2]["args"] == []
    assert r.get("resque:stat:processed") == b"3"
    assert r.get("resque:stat:failed") is None
    assert r.llen("resque:failed") == 0


def test_python_enqueue_writes_what_resque_enqueue_writes(r, url):
    producer = forkq.Producer(r)
    assert producer.enqueue("Record", 1, "two", queue="q1")
    assert r.lrange("resque:queue:q1", 0, -1) == [b'{"class":"Record","args":[1,"two"]}']
    assert r.smembers("resque:queues") == {b"q1"}
    producer.enqueue("Record", 3, queue="q1")
    assert producer.dequeue("Record", 1, "two", queue="q1") == 1
    assert r.lrange("resque:queue:q1", 0, -1) == [b'{"class":"Record","args":[3]}']
    assert producer.dequeue("Record", queue="q1") == 1
    with pytest.raises(forkq.NoQueueError):
        producer.enqueue("Unqueued")


def test_queue_order_is_priority(r, spawn_worker):
    for i in range(3):
        enqueue_raw(r, "low", {"class": "Record", "args": ["low", i]})
        enqueue_raw(r, "high", {"class": "Record", "args": ["high", i]})
    burst(spawn_worker, "-q", "high,low")
    order = [pop(r, "test:done")["args"] for _ in range(6)]
    assert order == [["high", 0], ["high", 1], ["high", 2], ["low", 0], ["low", 1], ["low", 2]]


def test_wildcard_queues_sorted_after_named_ones(r, spawn_worker):
    for q in ("b", "a", "critical", "skip"):
        enqueue_raw(r, q, {"class": "Record", "args": [q]})
    burst(spawn_worker, "-q", "critical,*,!skip")
    assert [pop(r, "test:done")["args"][0] for _ in range(3)] == ["critical", "a", "b"]
    assert r.llen("resque:queue:skip") == 1


def test_raising_job_failure_entry_field_by_field(r, spawn_worker):
    enqueue_raw(r, "default", '{"class":"Fail","args":["bad thing"],"id":"j-1"}')
    worker = burst(spawn_worker, "-q", "default")
    [raw] = r.lrange("resque:failed", 0, -1)
    entry = json.loads(raw)
    assert list(entry) == ["failed_at", "payload", "exception", "error", "backtrace", "worker",
                           "queue"]
    assert raw.decode().split('"payload":', 1)[1].startswith(
        '{"class":"Fail","args":["bad thing"],"id":"j-1"},')  # as popped, extra keys kept
    assert entry["exception"] == "ValueError"
    assert entry["error"] == "bad thing"
    assert entry["backtrace"][0].endswith("workerjobs.py:%d:in `fail'" % (_line("def fail") + 1))
    assert all("forkq/" not in line for line in entry["backtrace"])
    assert entry["worker"] == "%s:%d:default" % (HOST, worker.pid)
    assert entry["queue"] == "default"
    assert time.strptime(entry["failed_at"], "%Y/%m/%d %H:%M:%S UTC")
    assert r.get("resque:stat:failed") == b"1" and r.get("resque:stat:processed") == b"1"


def _line(prefix):
    with open(os.path.join(SUPPORT, "workerjobs.py")) as fh:
        for n, line in enumerate(fh, 1):
            if line.startswith(prefix):
                return n
    return 0


def test_timeout_kills_and_records_within_timeout_plus_two(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "QuickTimeout", "args": [30]})
    worker = spawn_worker("-q", "default", "--burst")
    pop(r, "test:started")
    began = time.monotonic()
    assert worker.wait(15) == 0
    assert time.monotonic() - began < 1 + 2
    [entry] = failures(r)
    assert entry["exception"] == "forkq.JobTimeout"
    assert entry["error"] == "timed out after 1 s"


@pytest.mark.parametrize("job,args,words", [
    ("Exit", [3], "exited with status 3"),
    ("Kill", ["SIGKILL"], "killed by SIGKILL (signal 9)"),
    ("Segfault", [], "killed by SIGSEGV (signal 11)"),
])
def test_child_deaths_are_recorded_in_words(r, spawn_worker, job, args, words):
    enqueue_raw(r, "default", {"class": job, "args": args})
    enqueue_raw(r, "default", {"class": "Record", "args": ["after"]})
    burst(spawn_worker, "-q", "default")
    [entry] = failures(r)
    assert entry["exception"] == "Resque::DirtyExit"
    assert words in entry["error"] and "Child process" in entry["error"]
    assert entry["backtrace"] == []
    assert pop(r, "test:done")["args"] == ["after"]  # the worker went on
    assert r.get("resque:stat:processed") == b"2"
    assert r.get("resque:stat:failed") is None  # as Resque: parent-recorded deaths don't count


def test_unknown_class_fails_clearly_and_nothing_is_imported(r, spawn_worker):
    for name in ("os.system", "subprocess.call", "Nope::Missing"):
        enqueue_raw(r, "default", {"class": name, "args": ["touch /tmp/forkq-pwned"]})
    burst(spawn_worker, "-q", "default")
    entries = failures(r)
    assert [e["exception"] for e in entries] == ["forkq.UnknownJob"] * 3
    assert "No job is registered as 'os.system'" in entries[0]["error"]
    assert not os.path.exists("/tmp/forkq-pwned")


def test_job_hooks_run_in_resque_order(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "Hooked", "args": []})
    enqueue_raw(r, "default", {"class": "Hooked", "args": [True]})
    enqueue_raw(r, "default", {"class": "Skipped", "args": []})
    enqueue_raw(r, "default", {"class": "AfterForkProbe", "args": []})
    burst(spawn_worker, "-q", "default")
    trail = [json.loads(x)["hook"] for x in r.lrange("test:hooks", 0, -1)]
    assert trail == ["before_perform_a", "around_perform_b:before", "perform",
                     "around_perform_b:after", "after_perform",
                     "before_perform_a", "around_perform_b:before", "perform", "on_failure",
                     "after_fork"]
    [entry] = failures(r)
    assert entry["exception"] == "RuntimeError" and entry["error"] == "hooked failure"
    assert [json.loads(x)["job"] for x in r.lrange("test:done", 0, -1)] == ["AfterForkProbe"]
    assert r.get("resque:stat:processed") == b"4"


def test_priority_order_holds_across_a_long_queue_list(r, spawn_worker):
    """Past 16 queues the reserve script halves with EXISTS; order must not change."""
    names = ["q%03d" % i for i in range(60)]
    for q in ("q041", "q007", "q059", "q007"):
        enqueue_raw(r, q, {"class": "Record", "args": [q]})
    burst(spawn_worker, "-q", ",".join(names))
    assert [pop(r, "test:done")["args"][0] for _ in range(4)] == ["q007", "q007", "q041",
                                                                  "q059"]


def test_stat_failed_counts_job_failures_not_dirty_exits(r, spawn_worker):
    # contract §9.4: what Ruby reports through report_failed_job counts (an unknown class is a
    # NameError in perform there; so is a job out of time), a child seen dying does not
    enqueue_raw(r, "default", "not json at all")           # InvalidPayload: counted
    enqueue_raw(r, "default", {"class": "Nope::Missing", "args": []})  # unknown: counted
    enqueue_raw(r, "default", {"class": "BlockInC", "args": []})  # parent's timeout: counted
    enqueue_raw(r, "default", {"class": "Fail", "args": ["raised"]})   # raised: counted
    enqueue_raw(r, "default", {"class": "Exit", "args": [3]})          # DirtyExit: not
    enqueue_raw(r, "default", {"class": "Kill", "args": ["SIGKILL"]})  # DirtyExit: not
    burst(spawn_worker, "-q", "default", "--grace", "0.2", "--term-timeout", "0.5")
    assert [e["exception"] for e in failures(r)] == [
        "forkq.InvalidPayload", "forkq.UnknownJob", "forkq.JobTimeout", "ValueError",
        "Resque::DirtyExit", "Resque::DirtyExit"]
    assert r.get("resque:stat:failed") == b"4"
    assert r.get("resque:stat:processed") == b"6"


class _Ended:
    """What Outcome.from_exit reads of a reaped child."""

    def __init__(self, status, pid=4242, peak_rss_mb=25.5):
        self.pid, self.status, self.peak_rss_mb, self.server = pid, status, peak_rss_mb, None


def test_a_silent_clean_exit_says_so_before_the_numbers():
    from forkq.worker.outcome import Outcome
    outcome = Outcome.from_exit(_Ended(0), 3.2, None)
    assert outcome.error == ("Child process 4242 exited with status 0 without reporting a "
                             "result after 3.2 s, peak RSS 25.5 MB")
    assert outcome.exception == "Resque::DirtyExit" and not outcome.count_failed


def test_a_timeout_the_parent_enforced_counts_as_a_job_failure():
    from forkq.proc import timeouts
    from forkq.worker.outcome import Outcome
    plan = timeouts.Escalation.start(4242, "timed out after 1 s", 0, 1)
    outcome = Outcome.from_exit(_Ended(signal.SIGKILL), 3.0, plan)
    assert outcome.exception == "forkq.JobTimeout" and outcome.timed_out
    assert outcome.count_failed
    assert outcome.error.startswith("timed out after 1 s: Child process 4242 killed by SIGKILL")


def test_an_alarm_after_perform_returned_does_not_fail_the_finished_job():
    # mechanism: the alarm handler raises only while timeouts.in_job is set, which the child
    # sets right before perform and clears first thing after
    from forkq import errors
    from forkq.proc import timeouts
    seen = []

    @forkq.job(name="W2::AlarmWindow")
    def alarm_window():
        seen.append(timeouts.in_job[0])

    job = child.Job("default", b"{}", {"class": "W2::AlarmWindow", "args": []},
                    jobs.lookup("W2::AlarmWindow"), time.time())
    old = signal.signal(signal.SIGALRM, timeouts._raise_timeout)
    try:
        report, code = child.perform(job, 30, first=False)
        assert code == 0 and seen == [True] and timeouts.in_job[0] is False
        os.kill(os.getpid(), signal.SIGALRM)  # an alarm due just as the job finished
        for _ in range(100):
            time.sleep(0)  # let the handler run: it must not raise
        timeouts.in_job[0] = True
        with pytest.raises(errors.JobTimeout):
            os.kill(os.getpid(), signal.SIGALRM)
            for _ in range(100):
                time.sleep(0)
    finally:
        timeouts.in_job[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
