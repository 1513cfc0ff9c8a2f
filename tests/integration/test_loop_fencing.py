"""A cycle request held in a partition past the socket timeout, delivered late after the worker
reconnected and retried, must not act (issue 12, 1). Before the fence, the late request popped
job 3 and overwrote job 2's claim: job 2's record was dropped as a claim mismatch and job 3 was
never run, in no list. The worker's ledger drives a real Store through a TCP proxy that holds
the request and delivers it late; the socket timeout is 1 s instead of 30 s."""
import pytest
import redis
from harness import failures
from redis.backoff import NoBackoff
from redis.retry import Retry
from redisproxy import HoldingProxy


@pytest.fixture
def proxy(redis_server):
    p = HoldingProxy(redis_server.port)
    yield p
    p.close()


def make_ledger(proxy_url):
    from forkq.config import Config
    from forkq.log import EventLog
    from forkq.store.worker_io import Store
    from forkq.worker.ledger import Ledger
    client = redis.Redis.from_url(proxy_url, socket_timeout=1, retry=Retry(NoBackoff(), 0))
    store = Store(proxy_url, "resque", client=client)
    config = Config.load({"queues": ("default",), "redis_url": proxy_url}, {})
    return Ledger(store, "host:1:default", EventLog(), config), client


def perform(ledger, found, performed):
    from forkq.worker.outcome import Outcome
    from forkq.worker.record import Pending
    performed.append(found.raw)
    ledger.hold(Pending(found.queue, found.raw, Outcome(True)))


def test_a_late_cycle_request_is_fenced_off(r, proxy):
    from forkq.store.plan import QueuePlan, Reserved
    jobs = [b'{"class":"Record","args":[%d]}' % i for i in (1, 2, 3)]
    for raw in jobs:
        r.rpush("resque:queue:default", raw)
    r.sadd("resque:queues", "default")
    ledger, client = make_ledger(proxy.url)
    plan = QueuePlan(["default"])
    performed = []
    first = ledger.cycle(plan)                  # job 1 claimed
    perform(ledger, first, performed)
    proxy.hold_next_script()
    with pytest.raises(redis.TimeoutError):     # record job 1 + reserve: held, no reply
        ledger.cycle(plan)
    assert ledger.uncertain
    second = ledger.cycle(plan)                 # the retry: job 1 recorded, job 2 claimed
    assert isinstance(second, Reserved) and second.raw == jobs[1]
    proxy.deliver()                             # the old request reaches Redis now
    assert proxy.late_reply.wait(5)             # ... and has run (or been fenced off)
    assert r.llen("resque:queue:default") == 1, "the late request popped job 3"
    perform(ledger, second, performed)
    while True:                                 # drain: every job performed and recorded
        found = ledger.cycle(plan)
        if not isinstance(found, Reserved):
            break
        perform(ledger, found, performed)
    assert sorted(performed) == sorted(jobs)    # 0 lost, none twice
    assert r.get("resque:stat:processed") == b"3"  # one record a job
    assert r.llen("resque:queue:default") == 0 and failures(r) == []
    assert r.get("resque:worker:host:1:default") is None
    client.close()


def test_a_fence_that_vanished_is_taken_over(r):
    # The fence key expired (a job longer than a day) or was deleted: the next cycle is fenced
    # once, looks at its claim, and goes on; the job is recorded once.
    from forkq.store.plan import QueuePlan, Reserved
    r.rpush("resque:queue:default", b'{"class":"Record","args":[1]}')
    ledger, client = make_ledger("redis://127.0.0.1:%d/0" % r.connection_pool
                                 .connection_kwargs["port"])
    plan = QueuePlan(["default"])
    performed = []
    found = ledger.cycle(plan)
    assert isinstance(found, Reserved)
    perform(ledger, found, performed)
    r.delete("resque:worker:host:1:default:fence")
    assert ledger.cycle(plan) is not None
    assert r.get("resque:stat:processed") == b"1" and failures(r) == []
    assert r.get("resque:worker:host:1:default") is None
    # and the keys go with the worker
    assert ledger.release("test") and not r.exists("resque:worker:host:1:default:fence")
    client.close()
