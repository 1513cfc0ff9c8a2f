"""The worker's way out and its signal pass, in process against the suite's redis-server:
every clean-up step runs whatever an earlier one raised, and children are reaped once a pass."""
import gc
import signal

import pytest
from harness import enqueue_raw, failures


@pytest.fixture
def make_worker(url):
    from forkq.config import Config
    from forkq.worker.loop import Worker
    alarm = signal.getsignal(signal.SIGALRM)
    made = []

    def make(**options):
        worker = Worker(Config.load(dict({"queues": ("default",), "redis_url": url}, **options),
                                    {}))
        made.append(worker)
        return worker
    yield make
    gc.unfreeze()  # Worker.startup froze the test process's heap
    signal.signal(signal.SIGALRM, alarm)
    for worker in made:
        worker.store.redis.close()


def keys_of(r, wid):
    return (r.sismember("resque:workers", wid), r.exists("resque:worker:" + wid),
            r.exists("resque:worker:%s:started" % wid), r.hexists("resque:workers:heartbeat", wid))


def test_a_failing_flush_pending_still_unregisters_and_records_the_held_job(r, make_worker,
                                                                            capfd):
    # mechanism: Worker.work runs each clean-up step under its own guard (Worker.clean_up)
    from forkq.worker.outcome import Outcome
    from forkq.worker.record import Pending
    from forkq.worker.backoff import Stop
    worker = make_worker()
    enqueue_raw(r, "default", {"class": "Ping", "args": []})

    def loop():  # a job performed, its record not yet written, then a stop
        found = worker.ledger.cycle(worker.plan)
        worker.ledger.hold(Pending("default", found.raw, Outcome(True)))
        assert keys_of(r, worker.id) == (True, 1, 1, True)
        raise Stop()

    def flush_pending():
        raise RuntimeError("injected flush failure")
    worker.loop = loop
    worker.ledger.flush = flush_pending
    assert worker.work() == 0
    assert keys_of(r, worker.id) == (False, 0, 0, False)  # unregister ran: keys gone
    [failure] = failures(r)  # the job it held is not lost: recorded as a dirty exit
    assert failure["payload"] == {"class": "Ping", "args": []}
    assert failure["worker"] == worker.id
    err = capfd.readouterr().err
    assert "injected flush failure" in err and "worker stopped" in err


def test_the_exit_code_survives_a_failing_clean_up_step(r, make_worker, capfd):
    from forkq.errors import ExitCode
    from forkq.worker.backoff import Unavailable
    worker = make_worker()

    def loop():
        raise Unavailable("Redis unreachable")

    def broken(*args, **kwargs):
        raise ValueError("injected retire failure")
    worker.loop = loop
    worker.retire_children = broken
    worker.children.stop_server = broken
    assert worker.work() == ExitCode.UNAVAILABLE
    assert keys_of(r, worker.id) == (False, 0, 0, False)
    err = capfd.readouterr().err
    assert err.count("clean-up step broken failed") == 2  # both logged, neither fatal
    assert "code=69" in err


class FakeChildren:
    from forkq.proc.children import Children
    after_signals = Children.after_signals  # the real once-a-pass reap rule

    def __init__(self, served, exiting):
        self.served = served
        self.exiting = [object()] if exiting else []
        self.reaps = 0
        self.orphan_reaps = 0

    def reap_exiting(self):
        self.reaps += 1

    def reap_orphans(self):
        self.orphan_reaps += 1

    def poll_server(self, ready=None):
        pass


@pytest.mark.parametrize("served,exiting,sigchld,reaps", [
    (True, True, True, 1),     # fork server, a child leaving, and a SIGCHLD: one reap
    (True, True, False, 1),    # its children announce exits on its socket: reap every pass
    (True, False, True, 1),
    (False, True, False, 0),   # without it, only a SIGCHLD says a child is gone
    (False, True, True, 1),
    (False, False, False, 0),
])
def test_children_are_reaped_once_a_pass(make_worker, served, exiting, sigchld, reaps):
    worker = make_worker()
    worker.children = FakeChildren(served, exiting)
    worker.signals.take = lambda drain=True: [signal.SIGCHLD] if sigchld else []
    worker.take_signals()
    assert worker.children.reaps == reaps


def test_a_sigchld_is_acted_on_in_the_pass_that_takes_it(make_worker):
    # One wait point: every pass that takes signals may reap, so no SIGCHLD is carried over
    # to a later pass (the old loop's chld_pending flag is gone).
    worker = make_worker()
    worker.children = FakeChildren(served=True, exiting=True)
    worker.pid = 1  # as a container's init, orphans are reaped on SIGCHLD too
    worker.signals.take = lambda drain=True: [signal.SIGCHLD]
    worker.take_signals()
    assert (worker.children.reaps, worker.children.orphan_reaps) == (1, 1)
    worker.signals.take = lambda drain=True: []
    worker.take_signals()  # no SIGCHLD: the served child's socket still calls for a reap
    assert (worker.children.reaps, worker.children.orphan_reaps) == (2, 1)
