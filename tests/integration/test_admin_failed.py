"""forkq failed: list, show, retry, remove and clear against the failed list, races included."""
import json
import threading
import time

import pytest
import redis
from adminharness import failed_entry as _failure
from adminharness import run  # noqa: F401  (the fixture)
from harness import enqueue_raw, failures, wait_until

from forkq import wire


def _fail_some(r, spawn_worker):
    """Three failures: 0 Fail("one") on default, 1 Nope(3) on default, 2 Fail("two") on other."""
    enqueue_raw(r, "default", '{"class":"Fail","args":["one"],"id":"keep"}')
    enqueue_raw(r, "default", {"class": "Nope", "args": [3]})
    enqueue_raw(r, "other", {"class": "Fail", "args": ["two"]})
    worker = spawn_worker("-q", "default,other", "--burst")
    assert worker.wait(20) == 0


def test_failed_list_show_and_filters(r, run, spawn_worker):
    _fail_some(r, spawn_worker)
    rows = json.loads(run("failed", "list", "--json"))
    assert [row["index"] for row in rows] == [2, 1, 0]  # newest first, real indices
    assert [row["index"] for row in json.loads(run("failed", "list", "--json", "--queue",
                                                   "other"))] == [2]
    assert [row["index"] for row in json.loads(run("failed", "list", "--json", "--class",
                                                   "Nope"))] == [1]
    human = run("failed", "list")
    assert "forkq.UnknownJob" in human and "ValueError" in human
    shown = run("failed", "show", "0")
    assert "error      one" in shown and "workerjobs.py" in shown
    assert json.loads(run("failed", "show", "2", "--json"))["error"] == "two"
    assert "no failed entry at index 9" in run("failed", "show", "9", code=1)


def test_failed_retry_is_resque_webs_retry(r, run, spawn_worker):
    _fail_some(r, spawn_worker)
    run("failed", "retry", "0")
    entry = failures(r)[0]
    assert "retried_at" in entry and entry["payload"]["id"] == "keep"  # marked in place
    assert r.lrange("resque:queue:default", 0, -1) == [b'{"class":"Fail","args":["one"]}']
    listed = run("failed", "list").splitlines()
    assert listed[0].split()[-2:] == ["RETRIED", "AT"], listed[0]  # the column has a header
    assert listed[-1].endswith(entry["retried_at"]), listed  # entry 0 is the oldest: last
    run("failed", "retry", "2", "--requeue-to", "elsewhere")
    assert r.lrange("resque:queue:elsewhere", 0, -1) == [b'{"class":"Fail","args":["two"]}']
    assert r.sismember("resque:queues", "elsewhere")
    out = json.loads(run("failed", "retry", "--all", "--class", "Nope", "--json"))
    assert out == [{"index": 1, "queue": "default"}]
    assert r.llen("resque:failed") == 3
    assert "removed 3" in run("failed", "clear-retried")
    assert r.llen("resque:failed") == 0


def test_failed_remove_uses_the_sentinel_and_clear_deletes(r, run, spawn_worker):
    _fail_some(r, spawn_worker)
    before = r.lrange("resque:failed", 0, -1)
    run("failed", "remove", "0", "2")
    assert r.lrange("resque:failed", 0, -1) == [before[1]]
    assert "cleared 1" in run("failed", "clear")
    assert not r.exists("resque:failed")


# --- failed retry: decided before any write; Ruby's *args ---------------------------------

def test_retry_of_an_entry_without_a_queue_is_reported_and_the_others_still_go(r, run):
    r.rpush("resque:failed", _failure({"class": "A", "args": [0]}),
            _failure({"class": "B", "args": [1]}, queue=None),
            _failure({"class": "C", "args": [2]}))
    rows = json.loads(run("failed", "retry", "--all", "--json", code=1))
    assert rows == [{"index": 0, "queue": "default"},
                    {"index": 1, "error": "failed entry 1 has no queue: use --requeue-to"},
                    {"index": 2, "queue": "default"}]
    assert r.lrange("resque:queue:default", 0, -1) == [b'{"class":"A","args":[0]}',
                                                      b'{"class":"C","args":[2]}']
    assert ["retried_at" in e for e in failures(r)] == [True, False, True]  # not marked
    out = run("failed", "retry", "1", code=1)
    assert "not retried 1: failed entry 1 has no queue: use --requeue-to" in out
    assert "retried_at" not in failures(r)[1] and r.llen("resque:queue:default") == 2
    assert "retried 1 onto rescue" in run("failed", "retry", "1", "--requeue-to", "rescue")
    assert r.lrange("resque:queue:rescue", 0, -1) == [b'{"class":"B","args":[1]}']
    assert "retried_at" in failures(r)[1]


def test_retry_recreates_args_as_rubys_splat(r, run):
    cases = [({"a": 1, "b": [2]}, [["a", 1], ["b", [2]]]), ("s", ["s"]), (None, []),
             (0, [0]), (False, [False]), ({}, []), ([1, {"k": "v"}], [1, {"k": "v"}])]
    for args, _ in cases:
        r.rpush("resque:failed", _failure({"class": "X", "args": args}))
    r.rpush("resque:failed", _failure({"class": "X"}))  # no args at all: nil
    run("failed", "retry", "--all")
    pushed = [json.loads(raw) for raw in r.lrange("resque:queue:default", 0, -1)]
    assert [job["args"] for job in pushed] == [want for _, want in cases] + [[]]
    assert all(list(job) == ["class", "args"] for job in pushed)


def test_retry_finishes_while_jobs_keep_failing(r, url, run):
    """Workers on a busy cluster keep appending to `failed` while an operator retries: the
    retry must not wait for a quiet moment, and must mark and push exactly the entries it
    chose (the appended ones move none of them)."""
    r.rpush("resque:failed", *[_failure({"class": "AB"[i % 2], "args": [i]}) for i in range(6)])
    stop, pushed = threading.Event(), []

    def keep_failing():
        other = redis.Redis.from_url(url)
        noise = _failure({"class": "Noise", "args": []})
        while not stop.is_set() and len(pushed) < 100000:
            other.rpush("resque:failed", noise)
            pushed.append(1)
        other.close()

    pusher = threading.Thread(target=keep_failing, daemon=True)
    pusher.start()
    try:
        wait_until(lambda: len(pushed) > 20, message="the pusher to start")
        started = time.monotonic()
        rows = json.loads(run("failed", "retry", "--all", "--class", "A", "--json"))
        elapsed, still_pushing = time.monotonic() - started, pusher.is_alive()
        indices = json.loads(run("failed", "retry", "1", "5", "--json"))
    finally:
        stop.set()
        pusher.join(60)
    assert still_pushing and elapsed < 30, (elapsed, len(pushed))
    assert rows == [{"index": i, "queue": "default"} for i in (0, 2, 4)]
    assert indices == [{"index": i, "queue": "default"} for i in (1, 5)]
    assert r.lrange("resque:queue:default", 0, -1) == [
        wire.job_payload("AB"[i % 2], [i]).encode() for i in (0, 2, 4, 1, 5)]
    entries = failures(r)
    assert ["retried_at" in e for e in entries[:6]] == [True, True, True, False, True, True]
    assert len(entries) == 6 + len(pushed)
    assert not any("retried_at" in e for e in entries[6:])


def test_a_job_failing_during_every_retry_does_not_make_it_start_over(r, url, run,
                                                                       monkeypatch):
    """The worst case of a busy cluster, made certain: some worker appends a failure while
    each retry is between reading its entry and writing. Appends move no entry, so each
    retry decides once and goes through (a WATCH on `failed` would start over for ever)."""
    from forkq.store.failures import Failures
    r.rpush("resque:failed", *[_failure({"class": "AB"[i % 2], "args": [i]}) for i in range(4)])
    other, appended = redis.Redis.from_url(url), []
    decide = Failures.target_queue

    def a_job_fails_meanwhile(entry, requeue_to=None):
        if len(appended) < 50:  # bounded, so that a retry that starts over still ends
            other.rpush("resque:failed", _failure({"class": "Noise", "args": []}))
            appended.append(entry.index)
        return decide(entry, requeue_to)

    monkeypatch.setattr(Failures, "target_queue", staticmethod(a_job_fails_meanwhile))
    try:
        rows = json.loads(run("failed", "retry", "--all", "--class", "A", "--json"))
        assert "retried 3 onto default" in run("failed", "retry", "3")
    finally:
        other.close()
    assert appended == [0, 2, 3]  # one decision per entry
    assert rows == [{"index": 0, "queue": "default"}, {"index": 2, "queue": "default"}]
    assert r.lrange("resque:queue:default", 0, -1) == [
        wire.job_payload("AB"[i % 2], [i]).encode() for i in (0, 2, 3)]
    assert ["retried_at" in e for e in failures(r)] == [True, False, True, True] + [False] * 3


@pytest.fixture
def meanwhile(monkeypatch):
    """Steps another operator takes after a retry read its entry and before it writes."""
    from forkq.store.failures import Failures
    steps = []
    decide = Failures.target_queue

    def racing(entry, requeue_to=None):
        if steps:
            steps.pop(0)()
        return decide(entry, requeue_to)

    monkeypatch.setattr(Failures, "target_queue", staticmethod(racing))
    return steps


def test_an_entry_changed_between_read_and_write_is_not_retried_by_mistake(r, url, meanwhile):
    from forkq.store.admin import Admin
    from forkq.store.failures import EntryChanged
    r.rpush("resque:failed", *[_failure({"class": c, "args": [i]}) for i, c in enumerate("ABCD")])
    failed = Admin(url, "resque").failures
    other = Admin(url, "resque").failures  # another operator, in another shell

    def state():
        return [(e["payload"]["class"], "retried_at" in e) for e in failures(r)]

    def pushed():
        return [json.loads(raw)["class"] for raw in r.lrange("resque:queue:default", 0, -1)]

    # retry 1 read B; A is removed meanwhile, so B is at 0 now and C at 1: B is retried
    meanwhile.append(lambda: other.remove(0))
    assert failed.retry(1) == "default"
    assert state() == [("B", True), ("C", False), ("D", False)] and pushed() == ["B"]
    # retry 1 read C; the other operator retries C meanwhile: C changed, so not twice
    meanwhile.append(lambda: other.retry(1))
    with pytest.raises(EntryChanged, match="entry 1 changed since it was read"):
        failed.retry(1)
    assert state() == [("B", True), ("C", True), ("D", False)] and pushed() == ["B", "C"]
    # retry --all --class D chose D at 2 from a listing; B is removed before the retry
    [chosen] = failed.all(class_name="D")
    other.remove(0)
    assert failed.retry(chosen.index, expected=chosen.raw) == "default"
    assert state() == [("C", True), ("D", True)] and pushed() == ["B", "C", "D"]
    # and an entry chosen from a listing, then removed, is reported: the one now at its index
    # (which the filter did not choose) stays as it was
    r.rpush("resque:failed", _failure({"class": "E", "args": [4]}),
            _failure({"class": "F", "args": [5]}))
    [chosen] = failed.all(class_name="E")
    other.remove(chosen.index)
    with pytest.raises(EntryChanged):
        failed.retry(chosen.index, expected=chosen.raw)
    assert state() == [("C", True), ("D", True), ("F", False)] and pushed() == ["B", "C", "D"]


def test_retry_all_retries_the_entries_its_filter_chose_when_a_remove_moves_them(
        r, url, run, meanwhile):
    from forkq.store.admin import Admin
    r.rpush("resque:failed", *[_failure({"class": "AB"[i % 2], "args": [i]}) for i in range(5)])
    other = Admin(url, "resque").failures
    # after the listing chose A0, A2, A4: another operator removes B1 (A2 and A4 move up one)
    # and then A4 itself
    meanwhile.extend([lambda: other.remove(1), lambda: other.remove(3)])
    rows = json.loads(run("failed", "retry", "--all", "--class", "A", "--json", code=1))
    assert rows[:2] == [{"index": 0, "queue": "default"}, {"index": 2, "queue": "default"}]
    assert rows[2]["index"] == 4 and "changed since it was read" in rows[2]["error"]
    assert [json.loads(raw)["args"] for raw in r.lrange("resque:queue:default", 0, -1)] == [
        [0], [2]]
    assert [(e["payload"]["args"], "retried_at" in e) for e in failures(r)] == [
        ([0], True), ([2], True), ([3], False)]


def test_failed_list_keeps_entries_that_are_not_json_objects(r, run):
    r.rpush("resque:failed", b"not json \xff", b"[1,2]", _failure({"class": "X", "args": []}))
    rows = json.loads(run("failed", "list", "--json"))
    assert rows[1:] == [{"index": 1, "raw": "[1,2]"}, {"index": 0, "raw": "not json \\xff"}]
    assert rows[0]["index"] == 2 and rows[0]["payload"] == {"class": "X", "args": []}
    assert "(not a JSON object) not json" in run("failed", "list")
    assert json.loads(run("failed", "show", "0", "--json")) == {"index": 0,
                                                                "raw": "not json \\xff"}
    assert "not a JSON object: [1,2]" in run("failed", "show", "1")
    out = run("failed", "retry", "0", code=1)
    assert "has no job class to retry" in out and r.lindex("resque:failed", 0) == \
        b"not json \xff"


def test_indices_with_filters_are_refused_not_ignored(r, run):
    r.rpush("resque:failed", _failure({"class": "A", "args": []}),
            _failure({"class": "B", "args": []}, queue="other"))
    before = r.lrange("resque:failed", 0, -1)
    for command in ("retry", "remove"):
        out = run("failed", command, "0", "--queue", "other", code=2)
        assert "--queue and --class choose entries for --all" in out
        assert "--queue and --class" in run("failed", command, "1", "--class", "A", code=2)
        assert "not both" in run("failed", command, "0", "--all", code=2)
        assert "give INDEX... or --all" in run("failed", command, code=2)
    assert r.lrange("resque:failed", 0, -1) == before and not r.exists("resque:queue:default")
    assert json.loads(run("failed", "remove", "--all", "--queue", "other", "--json")) == {
        "removed": [1]}
    assert r.lrange("resque:failed", 0, -1) == before[:1]
    assert "nothing to remove" in run("failed", "remove", "--all", "--class", "Nope")


def test_failed_remove_clear_and_clear_retried_json(r, run):
    r.rpush("resque:failed", *[_failure({"class": "X", "args": [i]}) for i in range(5)])
    before = r.lrange("resque:failed", 0, -1)
    assert json.loads(run("failed", "remove", "3", "1", "--json")) == {"removed": [1, 3]}
    assert r.lrange("resque:failed", 0, -1) == [before[0], before[2], before[4]]
    assert "no failed entry at index 7" in run("failed", "remove", "7", "--json", code=1)
    assert json.loads(run("failed", "retry", "0", "2", "--json")) == [
        {"index": 0, "queue": "default"}, {"index": 2, "queue": "default"}]
    assert json.loads(run("failed", "clear-retried", "--json")) == {"removed": 2}
    assert r.lrange("resque:failed", 0, -1) == [before[2]]
    assert json.loads(run("failed", "clear", "--json")) == {"cleared": 1}
    assert not r.exists("resque:failed")
    assert json.loads(run("failed", "clear", "--json")) == {"cleared": 0}
