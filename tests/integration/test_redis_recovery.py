"""An in-process worker's claims after a lost reply, and its backoff while Redis cannot serve."""
import time

import pytest
import redis
from harness import enqueue_raw, failures
from redisfaults import client, server  # noqa: F401  (the fixtures)


def test_a_lost_reply_while_reserving_puts_the_claimed_job_back(server, client):
    """The cycle script ran but its reply was lost: Ledger.recover compares our claim's sha1
    with the one we hold and puts a job we never saw back at the head of its queue."""
    from forkq import wire
    from forkq.config import Config
    from forkq.store.plan import Reserved
    from forkq.worker.loop import Worker
    from forkq.worker.outcome import Outcome
    from forkq.worker.record import Pending
    worker = Worker(Config.load({"queues": ("default",), "redis_url": server.url}, {}))
    for i in range(2):
        enqueue_raw(client, "default", {"class": "Record", "args": [i]})
    first = worker.ledger.cycle(worker.plan)  # job 0 claimed; we "perform" it
    assert isinstance(first, Reserved)
    worker.ledger.hold(Pending("default", first.raw, Outcome(True)))
    # the next cycle records job 0 and claims job 1, but its reply never reaches us:
    lose_next_reply(worker)
    with pytest.raises(redis.ConnectionError):
        worker.ledger.cycle(worker.plan)
    assert worker.ledger.uncertain and worker.ledger.pending is not None
    assert wire.split_claim(client.get("resque:worker:" + worker.id))[1] == \
        '{"class":"Record","args":[1]}'
    worker.ledger.recover()
    assert worker.ledger.pending is None                          # job 0's record went through
    assert client.get("resque:stat:processed") == b"1"
    assert client.lrange("resque:queue:default", 0, -1) == [b'{"class":"Record","args":[1]}']
    assert client.get("resque:worker:" + worker.id) is None  # nothing half-claimed


def lose_next_reply(worker):
    """The next cycle script runs in Redis, but its reply never reaches the worker."""
    real = worker.ledger.store._run_cycle

    def ran_then_lost(*args, **kwargs):
        worker.ledger.store._run_cycle = real
        real(*args, **kwargs)
        raise redis.ConnectionError("connection cut before the reply arrived")

    worker.ledger.store._run_cycle = ran_then_lost


def test_a_lost_reply_between_two_identical_jobs_records_each_once(server, client,
                                                                   monkeypatch):
    """Two identical jobs reserved within one second: the cycle that records the first and
    claims the second loses its reply. Without a number of its own in each claim, the two
    claims would be byte for byte the same: recover would take the second for the first,
    send the record again, and that would delete the second's claim (never run) and count
    the first twice."""
    from forkq import wire
    from forkq.config import Config
    from forkq.store.plan import Idle, Reserved
    from forkq.worker.loop import Worker
    from forkq.worker.outcome import Outcome
    from forkq.worker.record import Pending
    monkeypatch.setattr(wire, "run_at", lambda epoch: "2026-11-23T00:48:52Z")  # one second
    worker = Worker(Config.load({"queues": ("default",), "redis_url": server.url}, {}))
    ping = {"class": "Ping", "args": []}
    enqueue_raw(client, "default", ping)
    enqueue_raw(client, "default", ping)
    first = worker.ledger.cycle(worker.plan)
    assert isinstance(first, Reserved)
    first_claim = client.get("resque:worker:" + worker.id)
    worker.ledger.hold(Pending("default", first.raw, Outcome(True)))  # performed
    lose_next_reply(worker)
    with pytest.raises(redis.ConnectionError):
        worker.ledger.cycle(worker.plan)  # recorded the first, claimed the second: reply lost
    assert client.get("resque:stat:processed") == b"1"
    assert client.llen("resque:queue:default") == 0
    second_claim = client.get("resque:worker:" + worker.id)
    assert second_claim is not None
    # the retry: recover sees a claim it never got, puts it back, and reserves it again
    second = worker.ledger.cycle(worker.plan)
    assert isinstance(second, Reserved), "the second job was lost"
    assert second.raw == first.raw
    assert client.get("resque:stat:processed") == b"1"  # the first was not counted again
    worker.ledger.hold(Pending("default", second.raw, Outcome(True)))  # performed
    assert isinstance(worker.ledger.cycle(worker.plan), Idle)
    assert client.get("resque:stat:processed") == b"2"
    assert client.get("resque:stat:processed:" + worker.id) == b"2"
    assert client.get("resque:worker:" + worker.id) is None  # nothing left claimed
    assert client.llen("resque:queue:default") == 0 and failures(client) == []
    assert second_claim != first_claim  # why: each claim carries its own number


def test_a_record_never_ends_a_claim_it_is_not_for(server, client):
    """The record step deletes the claim only if it is the one the record is for: a retried
    record must not end (and count as done) a job claimed since."""
    from forkq.store.plan import QueuePlan, Reserved
    from forkq.store.worker_io import Store
    store = Store(server.url, "resque")
    wid = "host:1:default"
    enqueue_raw(client, "default", {"class": "Ping", "args": []})
    enqueue_raw(client, "default", {"class": "Ping", "args": []})
    plan = QueuePlan(["default"])
    first, _ = store.cycle(wid, "t", None, plan)
    second, finished = store.cycle(wid, "t", ("", False, None), plan, claim_sha=first.claim_sha)
    assert finished == 1 and isinstance(second, Reserved)
    assert second.claim_sha != first.claim_sha  # identical jobs, same second: still unique
    again, finished = store.cycle(wid, "t", ("", False, None), None, claim_sha=first.claim_sha)
    assert (again, finished) == (None, 0)
    assert client.get("resque:stat:processed") == b"1"
    assert client.get("resque:worker:" + wid) is not None  # the second job is still held
    with pytest.raises(ValueError):
        store.cycle(wid, "t", ("", False, None), None)  # a record must say which claim
    store.redis.close()


def test_a_lost_reply_before_the_script_ran_is_retried_as_is(server, client):
    from forkq.config import Config
    from forkq.worker.loop import Worker
    from forkq.worker.outcome import Outcome
    from forkq.worker.record import Pending
    worker = Worker(Config.load({"queues": ("default",), "redis_url": server.url}, {}))
    enqueue_raw(client, "default", {"class": "Record", "args": [0]})
    first = worker.ledger.cycle(worker.plan)
    worker.ledger.hold(Pending("default", first.raw, Outcome(True)))
    worker.ledger.uncertain = True  # as if the call failed before Redis ran it
    worker.ledger.recover()
    assert worker.ledger.pending is not None  # our claim is still there: nothing was recorded yet
    worker.ledger.cycle(worker.plan)
    assert client.get("resque:stat:processed") == b"1"
    assert client.get("resque:worker:" + worker.id) is None


def retry(worker, op, *args):
    """What the loop does with one Redis operation in its reserving state: attempt it; when
    Redis cannot serve, wait out the backoff (recorded here instead of waited) and take
    signals (worker.on_wait), then check whether a stop ends the trying."""
    from forkq.worker.backoff import FAILED
    while True:
        result = worker.calls.attempt(op, *args)
        if result is not FAILED:
            return result
        worker.delays.append(worker.calls.retry_in)
        worker.on_wait()
        worker.calls.not_before = 0.0
        worker.stopping.check()


def test_backoff_doubles_from_a_tenth_of_a_second_to_a_ten_second_cap(url):
    # mechanism: Worker.calls (backoff.Calls) and its Backoff. Its waits are recorded instead of waited.
    worker = quiet_worker(url)
    delays = worker.delays
    worker.registered = True
    worker.beat.next_at = time.monotonic() + 60
    faults = [redis.ConnectionError("Connection refused"), redis.TimeoutError("timed out"),
              redis.BusyLoadingError("loading")] * 4

    def op(value):
        if faults:
            raise faults.pop(0)
        return value * 2

    assert retry(worker, op, 21) == 42
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10, 10, 10, 10, 10])
    assert worker.beat.next_at == 0.0  # back: heartbeat (and re-register) at once
    # A stop asked for while backing off ends the wait rather than the worker hanging on.
    delays.clear()
    faults[:] = [redis.ConnectionError("down")] * 100
    stops = iter([None, None, "now"])

    def on_wait():
        worker.stopping.mode = next(stops)

    worker.on_wait = on_wait
    worker.stopping.mode = None
    with pytest.raises(Exception) as raised:
        retry(worker, op, 1)
    assert type(raised.value).__name__ == "Stop"
    assert delays == pytest.approx([0.1, 0.2, 0.4])
    # Anything but Redis being unreachable is not retried: a bug must not loop forever.
    worker.stopping.mode = None
    with pytest.raises(redis.ResponseError):
        retry(worker, lambda: (_ for _ in ()).throw(redis.ResponseError("ERR bug")))


def quiet_worker(url):
    """An in-process Worker whose backoff waits are recorded instead of waited."""
    from forkq.config import Config
    from forkq.worker.loop import Worker
    worker = Worker(Config.load({"queues": ("default",), "redis_url": url}, {}))
    worker.delays = []
    worker.on_wait = lambda: None
    return worker


def test_a_failover_to_a_read_only_node_is_waited_out(server, client):
    # mechanism: REDIS_DOWN holds ReadOnlyError (an error reply, not a lost connection), so
    # Worker.calls backs off instead of the worker dying; each READONLY drops the
    # connections, so a DNS name a failover moved is resolved again.
    from forkq.store.plan import Reserved
    from forkq.worker.outcome import Outcome
    from forkq.worker.record import Pending
    worker = quiet_worker(server.url)
    enqueue_raw(client, "default", {"class": "Ping", "args": []})
    client.replicaof("127.0.0.1", 1)  # demoted: a replica of a master that is not there
    reconnects = []
    real_reconnect = worker.store.reconnect

    def reconnect():
        reconnects.append(1)
        real_reconnect()
    worker.store.reconnect = reconnect

    def on_wait():
        if len(worker.delays) == 3:
            client.replicaof("no", "one")  # promoted again
    worker.on_wait = on_wait
    found = retry(worker, worker.ledger.cycle, worker.plan)
    assert isinstance(found, Reserved)
    assert worker.delays == pytest.approx([0.1, 0.2, 0.4])
    assert len(reconnects) == 3
    worker.ledger.hold(Pending("default", found.raw, Outcome(True)))
    retry(worker, worker.ledger.cycle, worker.plan)  # and carries on: the job is recorded
    assert client.get("resque:stat:processed") == b"1"
    assert client.get("resque:worker:" + worker.id) is None


@pytest.mark.parametrize("name", ["ReadOnlyError", "OutOfMemoryError", "MasterDownError",
                                  "TryAgainError", "ClusterDownError"])
def test_redis_saying_not_now_is_retried_in_every_cycle(server, client, name):
    # the reply errors that mean "not available now": a failover, maxmemory, a cluster moving
    from forkq.store.plan import Idle, Reserved
    from forkq.worker.outcome import Outcome
    from forkq.worker.record import Pending
    fault = getattr(redis.exceptions, name)
    worker = quiet_worker(server.url)
    enqueue_raw(client, "default", {"class": "Ping", "args": []})
    real = worker.ledger.store._run_cycle
    faults = [fault("not now")] * 3

    def flaky(*args, **kwargs):
        if faults:
            raise faults.pop()
        return real(*args, **kwargs)
    worker.ledger.store._run_cycle = flaky
    found = retry(worker, worker.ledger.cycle, worker.plan)
    assert isinstance(found, Reserved) and worker.delays == pytest.approx([0.1, 0.2, 0.4])
    worker.ledger.hold(Pending("default", found.raw, Outcome(True)))
    faults[:] = [fault("not now")] * 2
    assert isinstance(retry(worker, worker.ledger.cycle, worker.plan), Idle)
    assert client.get("resque:stat:processed") == b"1"
    assert client.get("resque:worker:" + worker.id) is None
