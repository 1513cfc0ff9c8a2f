"""worker.retries without Redis: what a job's outcome makes of its record (the effects
lua/effects.lua applies, and its `failed` entry)."""
import json

from forkq import errors
from forkq.api.hooks import job_hooks
from forkq.api.policies import RetryPolicy, UniquePolicy
from forkq.api.registry import JobSpec
from forkq.worker.outcome import Outcome
from forkq.worker.retries import JobRules, parent_exception

COUNTER = 'resque-retry:J:' + __import__("hashlib").sha1(b"1").hexdigest()


def rules(retry=None, unique=None, attempt=0):
    spec = JobSpec("J", print, "q", None, job_hooks(None), print, True, retry, unique)
    job = JobRules.of(spec, "J", [1], "q")
    job.attempt = attempt
    return job


def failure(failed_at=None):
    return '{"failed_at":"%s","queue":"q"}' % (failed_at or "2026/11/30 23:00:00 UTC")


def failed(**kw):
    kw.setdefault("count_failed", True)
    return Outcome(False, "ValueError", "boom", reported=True, **kw)


def test_a_retry_suppresses_the_entry_and_schedules_the_next_try():
    settled = rules(RetryPolicy.build(3, [2, 5]), attempt=1).settle(failed())
    assert settled.failure(failure) == ""
    effects = json.loads(settled.argv())
    assert effects["stat_failed"] is True
    retry = effects["retry"]
    assert retry["delay"] == 5 and retry["key"] == COUNTER and retry["queue"] == "q"
    assert retry["item"] == '{"class":"J","args":[1],"queue":"q"}'
    assert retry["payload"] == '{"class":"J","args":[1]}'
    assert retry["failure_key"] == "failure-" + COUNTER and retry["failure_ttl"] == 10
    assert retry["failure"].startswith('{"failed_at":"') and "UTC" not in retry["failure"]


def test_give_up_writes_the_entry_with_the_attempt_count_and_clears_the_counter():
    settled = rules(RetryPolicy.build(2, 0), attempt=2).settle(failed())
    assert json.loads(settled.failure(failure))["attempts"] == 3
    assert json.loads(settled.argv()) == {"del": [COUNTER, "failure-" + COUNTER]}


def test_success_clears_the_counter_and_the_lock():
    settled = rules(RetryPolicy.build(2, 0), UniquePolicy.build("until_executed")).settle(
        Outcome(True))
    assert json.loads(settled.argv())["del"] == ['lock:J:q:[1]', COUNTER, "failure-" + COUNTER]


def test_a_requeued_job_steps_its_counter_back_and_keeps_an_enqueue_lock():
    settled = rules(RetryPolicy.build(2, 0), UniquePolicy.build("until_executed")).settle(
        Outcome(False, requeue=True))
    assert json.loads(settled.argv()) == {"decr": COUNTER}


def test_locks_across_a_retry():
    kept = rules(RetryPolicy.build(2, 7), UniquePolicy.build("until_executed", lock_ttl=60))
    assert json.loads(kept.settle(failed()).argv())["expire"] == [["lock:J:q:[1]", 67]]
    freed = rules(RetryPolicy.build(2, 7), UniquePolicy.build("while_executing"))
    assert json.loads(freed.settle(failed()).argv())["del"] == ["workerslock:J:q:[1]"]


def test_the_childs_verdict_wins_and_the_parent_judges_what_the_child_could_not():
    policy = RetryPolicy.build(3, 0, retry_on=errors.JobTimeout)
    assert rules(policy).settle(failed(retryable=False)).retry_in is None
    died = Outcome(False, errors.DIRTY_EXIT, "killed by SIGKILL")
    assert rules(policy).settle(died, parent_exception(died)).retry_in is None
    timed_out = Outcome(False, "forkq.JobTimeout", "timed out", timed_out=True)
    assert rules(policy).settle(timed_out, parent_exception(timed_out)).retry_in == 0
    assert isinstance(parent_exception(died), errors.DirtyExit)


def test_a_while_executing_twin_is_deferred_without_counters():
    deferred = rules(None, UniquePolicy.build("while_executing")).deferred()
    effects = json.loads(deferred.argv())
    assert list(effects) == ["retry"] and "key" not in effects["retry"]
    assert effects["retry"]["delay"] == 1


def test_plain_jobs_have_no_rules():
    spec = JobSpec("P", print, "q", None, job_hooks(None), print, True)
    assert JobRules.of(spec, "P", [], "q") is None
