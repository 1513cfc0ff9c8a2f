"""The parent: one thread, one loop, one wait point.

Each pass waits in `wait` (the only place the parent blocks; signals are taken and every due tick
runs there: heartbeat and prune, the job's deadline, RSS guard, escalation, a scheduler), then
does what its state asks:

  starting     clear the old heartbeat, beat, prune, register (each retried with backoff)
  reserving    write the last job's record and claim the next job (one round trip)
  beginning    a job with retry/unique options counts its attempt and takes its lock
  supervising  a child runs the job; its report or its end is the job's outcome
  retiring     children let go after the queues ran dry are waited for (bounded)
  idle         until the interval is over, a job is announced, or a signal changes things
  leaving      the loop is over; the way out (stopping) writes what is left and unregisters

The parent never runs job code; every job ends in exactly one record (worker.ledger)."""
import gc
import os
import select
import signal
import socket
import time
import traceback

from forkq import wire
from forkq.api import hooks
from forkq.errors import ExitCode
from forkq.log import EventLog
from forkq.proc import child as child_mod
from forkq.proc import timeouts
from forkq.proc.children import Children
from forkq.proc.signals import SignalBox
from forkq.proc.titles import Titles
from forkq.store.client import REDIS_DOWN
from forkq.store.plan import PAUSED, Idle, QueuePlan, Reserved
from forkq.store.waker import Waker
from forkq.store.worker_io import Store
from forkq.worker.backoff import BURST_GIVE_UP, FAILED, Calls, Stop, Unavailable
from forkq.worker.beat import Beat
from forkq.worker import safely
from forkq.worker.ledger import Ledger
from forkq.worker.record import Pending
from forkq.worker.retries import Retries
from forkq.worker.stopping import Stopping
from forkq.worker.supervision import Starter, Supervision

STARTING, RESERVING, BEGINNING, SUPERVISING, RETIRING, IDLE, LEAVING = (
    "starting", "reserving", "beginning", "supervising", "retiring", "idle", "leaving")
RETIRE_POLL = 0.2
INF = float("inf")


class Worker:
    def __init__(self, config, store=None, forkserver=None, guard=None, fork_note=None):
        self.config = config
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.id = wire.worker_id(self.hostname, self.pid, config.queues)
        self.store = store or Store(config.redis_url, config.namespace)
        self.plan = QueuePlan(config.queues)
        self.signals = SignalBox()
        self.titles = Titles(config.procline_prefix)
        self.log = EventLog(config.log_format, config.verbose, worker_id=self.id)
        self.waker = None
        self.started = wire.started_at(time.time())
        self.registered = False
        self.stopping = Stopping(self)  # a stop asked for, and why; paused or not
        self.job = None               # the job a child runs now (supervision.Supervision)
        self.fork_note = fork_note    # why the fork server is not used, said at startup
        self.ledger = Ledger(self.store, self.id, self.log, config, pause=self.pause)
        self.beat = Beat(Store(config.redis_url, config.namespace), self.id, self.hostname,
                         self.started, config, self.log)
        self.calls = Calls(self.store, self.log, BURST_GIVE_UP if config.draining else None,
                           on_back=self.on_redis_back)
        self.state = STARTING
        self.until = 0.0              # idle and retiring: when the state is over at the latest
        self.start_step = 0
        self.idle_paused = False
        self.idle_found = None
        self.after_retire = None
        self.was_working = False
        self.beginning_job = None     # (job, latency) waiting for its retries.begin
        self.scheduler = None         # --scheduler: forkq.scheduler.attach (tick, next_at)
        if config.scheduler:
            from forkq.scheduler.attach import attach
            self.scheduler = attach(self)
        ctx = child_mod.Context(self.signals, config.timeout, self.pid, self.titles,
                                config.jobs_per_child)
        self.children = Children(ctx, self.log, config.term_timeout, forkserver, guard)
        self.retries = Retries(self.store, self.log)  # retry and unique options of jobs
        self.starter = Starter(self.retries, self.children, config, self.titles, self.log)

    # -- the whole life -----------------------------------------------------------------------
    def work(self):
        self.signals.install()
        timeouts.install()
        self.titles.starting()
        code = ExitCode.OK
        try:
            self.startup()
            self.loop()
        except Stop:
            pass
        except Unavailable as exc:
            self.log.event("error", "giving up: %s" % exc)
            code = ExitCode.UNAVAILABLE
        except Exception as exc:  # a forkq bug or an unrecoverable error: record, then leave
            self.log.event("error", "Failed to start worker : %r" % exc,
                           traceback=traceback.format_exc())
            code = ExitCode.SOFTWARE
        finally:
            self.stopping.leave(code)
        return code

    def startup(self):
        self.log.event("startup", "Starting worker %s" % self.id,
                       redis=self.config.safe_redis_url, queues=",".join(self.config.queues),
                       pid=self.pid)
        if self.fork_note:
            self.log.event("startup", self.fork_note)
        self.run(lambda: self.state is not STARTING)

    def loop(self):
        self.run(lambda: self.state is LEAVING)

    def run(self, done):
        """The loop: wait (the one wait point), then act on the state, until `done()`."""
        while not done():
            self.wait(*self.wake())
            self.step()

    def step(self):
        """Act on the state: each state is the method of its name."""
        if self.state is RESERVING or self.state is STARTING or self.state is BEGINNING:
            self.stopping.check()
        getattr(self, self.state)()

    # -- starting ---------------------------------------------------------------------------------
    def starting(self):
        steps = (lambda: self.store.clear_heartbeat(self.id), lambda: self.beat.beat(False),
                 self.beat.prune, None, lambda: self.store.register(self.id, self.started,
                                                         self.beat.stamp))
        while self.start_step < len(steps):
            step = steps[self.start_step]
            if step is None:  # the app's hook runs once: it is not a Redis call to retry
                hooks.run("before_first_fork")
            elif self.calls.attempt(step) is FAILED:
                return
            self.start_step += 1
        self.registered = True
        self.waker = Waker(self.store, self.plan, self.log)
        self.waker.fds()  # subscribe before the first reserve, or a push in between is missed
        try:
            self.retries.warn_without_scheduler(self.config.scheduler, self.config.lock_prefix)
        except REDIS_DOWN:
            pass  # a warning is not worth a wait: the loop finds Redis when it is back
        gc.freeze()  # keep the preloaded heap's pages shared with every child
        self.state = RESERVING

    # -- reserving and recording: one round trip per job ---------------------------------------
    def reserving(self):
        reserve = self.stopping.mode is None and not self.stopping.paused
        found = self.calls.attempt(self.ledger.cycle, self.plan if reserve else None)
        if found is FAILED:
            return
        if self.stopping.mode is not None:
            if isinstance(found, Reserved):  # a stop came while reserving: put it back
                self.calls.attempt(self.ledger.unclaim, found)
            self.state = LEAVING
        elif isinstance(found, Reserved):
            self.was_working = True
            self.start_job(found)
        else:
            self.idle_found = found
            self.children.reap_exiting()
            if self.children.current is not None:  # idle: no child kept waiting for a job
                self.retire_children(then=self.enter_idle)
            else:
                self.enter_idle()

    def on_redis_back(self):
        if self.registered:
            self.beat.next_at = 0.0  # re-register (if our keys vanished) right away

    # -- one job ------------------------------------------------------------------------------------
    def start_job(self, reserved):
        prepared = self.starter.prepare(reserved)
        if isinstance(prepared, Pending):
            self.ledger.hold(prepared)
            return
        self.beginning_job, self.state = prepared, BEGINNING
        self.beginning()

    def beginning(self):
        started = self.starter.begin(self.beginning_job, self.calls.attempt, FAILED,
                                     self.ledger.claim_sha)
        if started is FAILED:
            return
        self.beginning_job = None
        if isinstance(started, Supervision):
            self.job, self.state = started, SUPERVISING
            return
        self.state = RESERVING
        self.ledger.hold(started)
        if started.outcome.requeue:  # the fork failed: give the machine a moment
            self.calls.not_before = time.monotonic() + 1.0

    def supervising(self):
        job = self.job
        outcome = job.outcome()
        if outcome is not None:
            self.job = None
            self.ledger.hold(job.record(
                outcome, self.stopping.mode == "now" and self.config.requeue_on_shutdown,
                lambda done: self.starter.settle(job.job, done, job.rules)))
            if job.child_done(self.config.jobs_per_child):
                self.children.let_go(job.child)
            self.state = RESERVING

    # -- signals: the handlers only recorded them; here they are acted on -------------------------
    def take_signals(self, ready=None):
        """`ready`: what the wait's select found readable (None: read everything)."""
        self.children.poll_server(ready)
        taken = self.signals.take(ready is None or self.signals in ready)
        for sig in taken:
            if sig != signal.SIGCHLD:  # children are reaped below, once a pass
                self.stopping.on_signal(sig)
        self.children.after_signals(signal.SIGCHLD in taken, self.pid == 1)

    # -- idle and retiring -------------------------------------------------------------------------
    def enter_idle(self):
        if self.was_working:
            self.was_working = False
            safely.run_hooks(self.log, "queue_empty")
        if self.config.draining:
            self.stopping.stop("graceful", "burst: queues empty")
            self.state = LEAVING
            return
        found = self.idle_found
        if self.stopping.paused or found is PAUSED:
            self.titles.paused()
        else:
            self.titles.waiting(found.queues if isinstance(found, Idle) else
                                self.config.queues)
        self.state = IDLE
        self.until = time.monotonic() + self.config.interval
        self.idle_paused = self.stopping.paused
        if self.waker is not None and self.waker.pending():
            self.state = RESERVING

    def idle(self):
        if self.stopping.mode is not None or self.stopping.paused != self.idle_paused or \
                time.monotonic() >= self.until or \
                (self.waker is not None and self.waker.pending()):
            self.state = RESERVING

    def retire_children(self, then=None):
        """Let every child go and wait (in the loop) until all are reaped, for at most
        --term-timeout + 1 s (their KILL comes at --term-timeout); then `then()`. On the way
        out (no `then`) the loop runs here until they are gone."""
        self.children.let_all_go()
        self.until = time.monotonic() + self.config.term_timeout + 1.0
        self.after_retire, back, self.state = then, self.state, RETIRING
        self.retiring()  # none left to wait for: over at once
        if then is None:
            if self.state is RETIRING:
                self.job = None  # its claim is recorded by unregister
                self.run(lambda: self.state is not RETIRING)
            self.state = back

    def retiring(self):
        self.children.reap_exiting()
        if not self.children.exiting or time.monotonic() > self.until:
            self.state = LEAVING
            if self.after_retire is not None:
                then, self.after_retire = self.after_retire, None
                then()

    # -- the one wait point -----------------------------------------------------------------------
    def wake(self):
        """(until, fds) for the next wait, by state. A job's deadlines are next_deadline's."""
        state = self.state
        if state is SUPERVISING:
            child = self.job.child
            if child.reports:  # a report already read is taken now
                return 0.0, ()
            return INF, (() if child.eof else (child.report_r,))
        if state is IDLE:
            return self.until, (self.waker.fds() if self.waker is not None else ())
        if state is RETIRING:
            return min(self.until, time.monotonic() + RETIRE_POLL), ()
        return (self.calls.not_before if state in (RESERVING, STARTING, BEGINNING) else 0.0), ()

    def wait(self, until, fds=()):
        """The only place the parent blocks: until `until` (monotonic), one of `fds` is
        readable, a signal arrives, or a tick is due. Then signals are acted on and every tick
        that is due runs."""
        now = time.monotonic()
        due = min(until, self.next_deadline(now))
        if self.registered:
            due = min(due, self.beat.next_at)
        try:
            ready = select.select((self.signals,) + tuple(fds) + self.children.wake_fds(),
                                  (), (), max(0.0, min(due - now, 3600.0)))[0]
        except InterruptedError:
            ready = (self.signals,)
        self.take_signals(ready)
        self.ticks()

    def pause(self, seconds):
        self.wait(time.monotonic() + seconds)

    def next_deadline(self, now):
        """The earliest moment a tick must act: the job's time, escalation, RSS, scheduler."""
        due = self.job.next_at() if self.job is not None else INF
        if self.scheduler is not None:  # the scheduler's next tick is a deadline too
            due = min(due, self.scheduler.next_at)
        return due

    def ticks(self):
        now = time.monotonic()
        if self.job is not None:
            self.job.tick(now, self.log)
        if self.registered and now >= self.beat.next_at:
            if self.pid == 1:  # a SIGCHLD can be lost (merged with another)
                self.children.reap_orphans()
            self.beat.tick(now, self.next_deadline(time.monotonic()), register=True)
        if self.scheduler is not None:
            self.scheduler.tick()
