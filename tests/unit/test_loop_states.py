"""The parent's loop driven as a state machine, with a fake child, a fake clock and a fake wait
(gunicorn's test_arbiter.py is the model): the timeout chain, a stop during a job and the
backoff are checked to the millisecond without a process, a Redis server or a real second.
The real-process tests (tests/integration) prove the same paths end to end."""
import collections
import io
import json
import signal

import pytest
import redis

import forkq
from forkq.config import Config
from forkq.log import EventLog
from forkq.store.plan import Idle, Reserved
from forkq.worker import backoff as backoff_mod
from forkq.worker import loop as loop_mod
from forkq.worker import supervision as supervision_mod
from forkq.worker.backoff import Stop

INF = float("inf")


@forkq.job(name="UnitLoop::Limited", timeout=2)
def limited():
    pass


@forkq.job(name="UnitLoop::Plain")
def plain():
    pass


class Clock:
    """Monotonic and wall time that move only when the fake wait says so."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def time(self):
        return 1.7e9 + self.now


class FakeChild:
    def __init__(self, pid):
        self.pid = pid
        self.report_r = -1
        self.eof = False
        self.reports = collections.deque()
        self.status = None
        self.server = None
        self.peak_rss_mb = None
        self.accepting = False
        self.jobs_sent = 1
        self.line_due = False

    def read(self):
        pass

    def exited(self):
        return self.status is not None


class FakeChildren:
    served = False

    def __init__(self, child):
        self.child = child
        self.current = None
        self.exiting = []
        self.let_go_count = 0

    def spawn(self, job, message):
        self.current = self.child
        return self.child

    def let_go(self, child):
        self.let_go_count += 1
        self.current = None

    def let_all_go(self):
        self.current = None

    def reap_exiting(self):
        pass

    def after_signals(self, sigchld, init):
        pass

    def poll_server(self, ready=None):
        pass

    def wake_fds(self):
        return ()

    def end_current(self):
        pass


class FakeLedger:
    def __init__(self, results):
        self.results = list(results)
        self.cycles = []      # True: a cycle that reserves; False: one that only records
        self.claim_sha = "sha"
        self.held = []

    def cycle(self, plan=None):
        self.cycles.append(plan is not None)
        result = self.results.pop(0) if self.results else Idle([])
        if isinstance(result, Exception):
            raise result
        return result

    def hold(self, pending):
        self.held.append(pending)

    def unclaim(self, found):
        pass


class Quiet:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class Beat:
    next_at = INF

    def tick(self, *args, **kwargs):
        pass


class Harness:
    """A Worker whose clock, wait, child, signals and ledger are fakes."""

    def __init__(self, monkeypatch, results, child=None, events=(), **options):
        self.clock = Clock()
        fake_time = type("FakeTime", (), {"monotonic": self.clock.monotonic,
                                          "time": self.clock.time})
        for module in (loop_mod, supervision_mod, backoff_mod, loop_mod.timeouts):
            monkeypatch.setattr(module, "time", fake_time)
        monkeypatch.setattr(loop_mod.select, "select", self.select)
        monkeypatch.setattr(loop_mod.timeouts, "kill_group", self.kill_group)
        config = Config.load(dict({"queues": ("default",), "redis_url": "redis://127.0.0.1:1/0",
                                   "interval": 5.0}, **options), {})
        self.worker = worker = loop_mod.Worker(config)
        self.out = io.StringIO()
        worker.log = EventLog("text", True, stream=self.out)
        worker.titles = Quiet()
        worker.beat = Beat()
        worker.ledger = self.ledger = FakeLedger(results)
        worker.calls.log = worker.log
        self.child = child or FakeChild(4242)
        worker.children = FakeChildren(self.child)
        worker.starter = loop_mod.Starter(worker.retries, worker.children, config,
                                          worker.titles, worker.log)
        worker.registered = True
        worker.state = loop_mod.RESERVING
        self.pending_signals = []
        worker.signals.take = self.take
        self.events = sorted(events)   # (seconds from the start, signal)
        self.start = self.clock.now
        self.waits = []
        self.sent = []                 # (seconds from the start, signal) to the child's group

    def at(self):
        return round(self.clock.now - self.start, 3)

    def select(self, rlist, wlist, xlist, timeout):
        if not self.pending_signals:
            wake = self.clock.now + timeout
            if self.events and self.start + self.events[0][0] <= wake:
                when, sig = self.events.pop(0)
                wake = self.start + when
                self.pending_signals.append(sig)
            self.waits.append(round(wake - self.clock.now, 3))
            self.clock.now = wake
        return [], [], []

    def take(self, drain=True):
        taken, self.pending_signals = self.pending_signals, []
        return taken

    def kill_group(self, pgid, sig):
        assert pgid == self.child.pid
        self.sent.append((self.at(), sig))
        if sig == signal.SIGKILL or not getattr(self.child, "ignores_term", False):
            self.child.status = int(sig)  # a wait status: killed by that signal
            self.pending_signals.append(signal.SIGCHLD)
        return True


def job(name):
    return Reserved("default", b'{"class":"%s","args":[]}' % name.encode(), "sha")


def test_a_job_that_never_reports_gets_term_at_its_deadline_then_kill(monkeypatch):
    child = FakeChild(4242)
    child.ignores_term = True  # blocked in C with TERM masked: only KILL ends it
    h = Harness(monkeypatch, [job("UnitLoop::Limited")], child=child, grace=0.5,
                term_timeout=1.0, burst=True)
    h.worker.loop()
    # timeout 2 + grace 0.5 → TERM; + term-timeout 1 → KILL: on the clock, not later
    assert h.sent == [(2.5, signal.SIGTERM), (3.5, signal.SIGKILL)]
    [pending] = h.ledger.held
    assert pending.outcome.timed_out and pending.job_class == "UnitLoop::Limited"
    assert pending.outcome.error.startswith("timed out after 2 s: Child process 4242 killed by "
                                            "SIGKILL")
    assert h.ledger.cycles == [True, True]  # the reserve, then the record with the next one
    assert h.worker.stopping.mode == "graceful"
    assert h.worker.stopping.reason == "burst: queues empty"


def test_term_during_a_job_gives_it_the_shutdown_timeout_then_records_it(monkeypatch):
    h = Harness(monkeypatch, [job("UnitLoop::Plain")], events=[(1.0, signal.SIGTERM)],
                shutdown_timeout=3.0)
    h.worker.loop()
    assert h.sent == [(4.0, signal.SIGTERM)]  # received at 1 s, + --shutdown-timeout 3 s
    [pending] = h.ledger.held
    assert not pending.outcome.ok and not pending.outcome.timed_out
    assert "worker shutting down (SIGTERM)" in pending.outcome.error
    assert h.ledger.cycles == [True, False]  # stopping: record only, reserve nothing
    assert h.worker.state == loop_mod.LEAVING


def test_a_report_ends_the_job_with_no_signal_sent(monkeypatch):
    h = Harness(monkeypatch, [job("UnitLoop::Limited")], burst=True)
    h.child.reports.append({"ok": True})
    h.worker.loop()
    assert h.sent == [] and [p.outcome.ok for p in h.ledger.held] == [True]


def test_redis_down_while_reserving_backs_off_on_the_clock_until_a_stop(monkeypatch):
    down = [redis.ConnectionError("refused")] * 10
    h = Harness(monkeypatch, down, events=[(0.65, signal.SIGTERM)])
    with pytest.raises(Stop):
        h.worker.loop()
    # none before the first try, then 0.1, 0.2 and the TERM at 0.65 s, in the 0.4 s wait
    assert h.waits[:3] == [0.0, 0.1, 0.2] and h.at() == 0.65
    assert h.ledger.cycles == [True, True, True]


def test_idle_waits_the_interval_in_one_wait_and_a_signal_ends_it(monkeypatch):
    h = Harness(monkeypatch, [Idle(["default"]), Idle(["default"])],
                events=[(7.0, signal.SIGQUIT)])
    h.worker.loop()
    # reserve, idle 5 s, reserve, idle until the QUIT at 7 s, the last cycle (record only)
    assert h.waits == [0.0, 5.0, 0.0, 2.0, 0.0]
    assert h.ledger.cycles == [True, True, False]


def test_done_and_failed_lines_carry_the_class_and_the_child_pid():
    from forkq.worker.outcome import Outcome
    from forkq.worker.record import Pending
    for fmt in ("text", "json"):
        out = io.StringIO()
        log = EventLog(fmt, True, stream=out)
        for outcome in (Outcome(True), Outcome(False, "ValueError", "boom")):
            child = FakeChild(31337)
            child.status = 0
            child.exit_fields = lambda: {"status": "exited with status 0"}
            child.accepting = True
            child.exit_told = False
            Pending("default", b"{}", outcome, child, 1.0, job_class="Mailers::Signup").log(
                log, 1)
        lines = out.getvalue().splitlines()
        assert len(lines) == 2
        for line, event in zip(lines, ("done", "failed")):
            if fmt == "json":
                record = json.loads(line)
                assert (record["event"], record["job"], record["pid"]) == \
                    (event, "Mailers::Signup", 31337)
            else:
                assert " %s " % event in line and "job=Mailers::Signup" in line
                assert "pid=31337" in line


def test_burst_gives_up_before_its_limit_and_says_so_without_contradiction():
    from forkq.worker.backoff import Backoff, Unavailable
    spell, now, delays = Backoff(give_up=10), 0.0, []
    with pytest.raises(Unavailable) as raised:
        while True:
            delays.append(spell.failed(now))
            now += delays[-1]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2])
    # was: "Redis unreachable for 6.3 s, and --burst waits at most 10 s"
    assert str(raised.value) == ("Redis unreachable for 6.3 s, and the next try would come "
                                 "after --burst's limit of 10 s")
