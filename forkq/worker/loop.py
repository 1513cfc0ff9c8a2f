"""The parent: one thread, one loop. reserve → spawn → supervise → record, with heartbeat and
prune as ticks of the same loop and signals acted on only here (handlers just record).

The parent never runs job code. Every job ends in exactly one record written by this process:
done (stat:processed), or one `failed` entry (or, on a shutdown with --requeue-on-shutdown,
back at the head of its queue).
"""
import gc
import os
import select
import signal
import socket
import time
import traceback

from forkq import errors, wire
from forkq.api import hooks
from forkq.api import registry as jobs
from forkq.errors import ExitCode, InvalidPayload
from forkq.log import EventLog
from forkq.proc import child as child_mod
from forkq.proc import timeouts
from forkq.proc.children import Children
from forkq.proc.signals import SignalBox
from forkq.proc.signals import name as signal_name
from forkq.proc.titles import Titles
from forkq.store.client import REDIS_DOWN
from forkq.store.plan import PAUSED, Idle, QueuePlan, Reserved
from forkq.store.waker import Waker
from forkq.store.worker_io import Store
from forkq.worker import prune
from forkq.worker.outcome import Outcome
from forkq.worker.record import Pending
from forkq.worker.recovery import RedisFaults, Stop, Unavailable
from forkq.worker.retries import Retries

RSS_POLL = 0.5


class Worker(RedisFaults):
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
        self.retries = Retries(self.store, self.log)  # retry and unique options of jobs
        self.waker = None
        self.started = wire.started_at(time.time())
        self.registered = False
        self.paused = False
        self.stopping = None          # None, "graceful" or "now"
        self.stop_reason = None
        self.escalation = None        # the plan to end the current job, if any
        self.pending = None           # the last job's record, written with the next reserve
        self.claim_sha = None         # sha1 of the worker:<id> claim of the job we hold
        self.uncertain = False        # a cycle's reply was lost: Redis may be ahead of us
        self.next_beat = 0.0
        self.chld_pending = False     # a SIGCHLD taken while not reaping: act on it later
        self.fork_note = fork_note    # why the fork server is not used, said at startup
        ctx = child_mod.Context(self.signals, config.timeout, self.pid, self.titles,
                                config.jobs_per_child)
        self.children = Children(ctx, self.log, config.term_timeout, forkserver, guard)
        self.scheduler = None         # --scheduler: forkq.scheduler.attach
        if config.scheduler:
            from forkq.scheduler.attach import attach
            self.scheduler = attach(self)

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
            # Each step runs whatever an earlier one raised (RedisFaults.clean_up): a bug in
            # one must not leave our keys (and the job's record) to the next prune, nor
            # change the exit code.
            def log_exit():
                self.log.event("exit", "worker stopped", code=int(code), reason=self.stop_reason)
            for step in (self.children.end_current, self.retire_child,
                         self.children.stop_server, self.flush_pending, self.unregister,
                         self.release_scheduler, self.run_exit_hooks, log_exit,
                         self.signals.restore):
                self.clean_up(step)
        return code

    def release_scheduler(self):
        if self.scheduler is not None:
            self.scheduler.release()

    def run_exit_hooks(self):
        self.run_hooks("worker_exit")

    def startup(self):
        self.log.event("startup", "Starting worker %s" % self.id,
                       redis=self.config.safe_redis_url, queues=",".join(self.config.queues),
                       pid=self.pid)
        if self.fork_note:
            self.log.event("startup", self.fork_note)
        self.retrying(self.store.clear_heartbeat, self.id)
        self.retrying(self.beat, False)
        self.retrying(self.prune)
        hooks.run("before_first_fork")
        self.retrying(self.store.register, self.id, self.started)
        self.registered = True
        self.waker = Waker(self.store, self.plan, self.log)
        self.waker.fds()  # subscribe before the first reserve, or a push in between is missed
        try:
            self.retries.warn_without_scheduler(self.config.scheduler, self.config.lock_prefix)
        except REDIS_DOWN:
            pass  # a warning is not worth a wait: the loop finds Redis when it is back
        gc.freeze()  # keep the preloaded heap's pages shared with every child

    def loop(self):
        was_working = False
        while True:
            self.handle_signals()
            self.tick()
            reserve = self.stopping is None and not self.paused
            found = self.retrying(self.cycle, reserve)
            if self.stopping is not None:
                if isinstance(found, Reserved):  # a stop came while reserving: put it back
                    self.retrying(self.store.unclaim, self.id, found.claim_sha, found.queue,
                                  found.raw)
                break
            if isinstance(found, Reserved):
                self.process(found)
                was_working = True
                continue
            self.children.reap_exiting()
            if self.children.current is not None:
                self.retire_child()
            if was_working:
                was_working = False
                self.run_hooks("queue_empty")
            if self.config.draining:
                self.stop("graceful", "burst: queues empty")
                break
            if self.paused or found is PAUSED:
                self.titles.paused()
            else:
                self.titles.waiting(found.queues if isinstance(found, Idle) else
                                    self.config.queues)
            self.idle_wait(self.config.interval)

    # -- reserving and recording: one round trip per job ---------------------------------------
    def cycle(self, reserve):
        """Write the last job's record and (if `reserve`) claim the next job, in one script."""
        if self.uncertain:
            self.recover()
        record = self.pending.args(self.id) if self.pending is not None else None
        self.uncertain = True
        found, finished = self.store.cycle(self.id, wire.run_at(time.time()), record,
                                           self.plan if reserve else None,
                                           claim_sha=self.claim_sha)
        self.uncertain = False
        if self.pending is not None:
            self.pending.log(self.log, finished)
            self.pending = None
        if isinstance(found, Reserved):
            self.claim_sha = found.claim_sha
        return found

    # -- one job ------------------------------------------------------------------------------
    def process(self, reserved):
        now = time.time()
        try:
            payload = wire.decode_payload(reserved.raw)
        except InvalidPayload as exc:
            self.pending = Pending(reserved.queue, reserved.raw, Outcome(
                False, errors.exception_name(exc), str(exc), count_failed=True),
                payload_is_json=exc.is_object)
            return
        spec = jobs.lookup(payload["class"])
        if spec is None:
            known = ", ".join(jobs.registered()) or "none"
            self.pending = Pending(reserved.queue, reserved.raw, Outcome(
                False, errors.exception_name(errors.UnknownJob),
                "No job is registered as %r (this worker knows: %s). forkq runs only "
                "registered jobs and never imports a name a payload gives."
                % (payload["class"], known), count_failed=True))  # Ruby: NameError, counted
            return
        job = child_mod.Job(reserved.queue, reserved.raw, payload, spec, now)
        self.titles.processing(job.queue, int(now), job.class_name)
        since = wire.enqueued_at(payload)
        latency = round(now - since, 4) if since is not None else None
        self.log.event("reserved", queue=job.queue, job=job.class_name, queue_latency=latency)
        rules, go = self.retrying(self.retries.begin, spec, job.class_name, job.args, job.queue,
                                  self.claim_sha)
        if not go:
            self.pending = Pending(job.queue, job.raw, Outcome(True, skipped=True),
                                   started=now, settlement=rules.deferred())
            return
        try:
            hooks.run("before_fork", job)
        except Exception as exc:
            outcome = Outcome(False, errors.exception_name(exc),
                              "before_fork hook failed: %s" % exc, child_mod.backtrace(exc),
                              count_failed=True)
            self.pending = Pending(job.queue, job.raw, outcome, settlement=self.retries.settle(
                spec, job.args, outcome, rules))
            return
        outcome, child = self.supervise(job)
        self.pending = Pending(job.queue, job.raw, outcome, child, now, latency=latency,
                               settlement=self.retries.settle(spec, job.args, outcome, rules))
        if child is None:  # fork failed (EAGAIN, ENOMEM): the job goes back; give it a moment
            self.log.event("error", outcome.error)
            self.wait_fds((), 1.0)
        if child is not None and (child.status is not None or not child.accepting or
                                  child.jobs_sent >= self.config.jobs_per_child):
            self.children.let_go(child)

    def supervise(self, job):
        """Run `job` in a child (a live one that takes more jobs, or a new fork) and wait for
        its report or its end, heartbeating and acting on signals meanwhile."""
        child = self.children.current
        message = {"queue": job.queue, "raw": job.raw.decode("utf-8"), "at": job.reserved_at}
        if child is None or not child.accepting or not child.send_job(message):
            if child is not None:
                self.children.let_go(child)
            try:
                child = self.children.spawn(job, message)
            except OSError as exc:  # EAGAIN/ENOMEM: the job goes back, we back off
                return Outcome(False, requeue=True, error="fork failed: %s" % exc), None
            self.titles.forked(child.pid, int(time.time()))
        begun = time.monotonic()
        timeout = job.spec.timeout if job.spec.timeout is not None else self.config.timeout
        deadline = begun + timeout + self.config.grace if timeout else None
        self.escalation = None
        next_rss = begun + RSS_POLL if self.config.max_child_rss else None
        while True:
            if child.reports:
                outcome = Outcome.from_report(child.reports.popleft())
                break
            if child.exited():
                child.read()
                if child.reports:
                    continue
                outcome = Outcome.from_exit(child, time.monotonic() - begun, self.escalation)
                break
            now = time.monotonic()
            wake = [self.next_beat - now]
            if deadline is not None and self.escalation is None:
                wake.append(deadline - now)
            if self.escalation is not None and self.escalation.next_at() is not None:
                wake.append(self.escalation.next_at() - now)
            if next_rss is not None:
                wake.append(next_rss - now)
            self.wait_fds(() if child.eof else (child.report_r,), min(wake))
            child.read()
            self.handle_signals()
            self.tick()
            now = time.monotonic()
            if deadline is not None and now >= deadline and self.escalation is None:
                self.escalate("timed out after %s s" % timeouts.format_seconds(timeout), 0)
            if next_rss is not None and now >= next_rss:
                next_rss = now + RSS_POLL
                self.check_rss(child)
            if self.escalation is not None:
                self.escalation.step(now)
        if self.escalation is not None and not outcome.ok and self.stopping == "now" \
                and self.config.requeue_on_shutdown:
            outcome.requeue = True
        self.escalation = None
        return outcome, child

    def escalate(self, reason, wait):
        """Plan to end the current child: wait, TERM its group, KILL after --term-timeout."""
        child = self.children.current
        if child is None or child.status is not None:
            return
        # A fork server's child may not have its pid yet: the plan asks for it when due.
        plan = timeouts.Escalation.start(lambda: child.pid, reason, wait,
                                         self.config.term_timeout)
        if self.escalation is None or (plan.next_at() or 0) < (self.escalation.next_at() or 0):
            self.escalation = plan
            self.log.event("warning", "ending child %s: %s" % (child.pid or "(not forked yet)",
                                                                reason))

    def check_rss(self, child):
        try:
            import psutil
            rss = psutil.Process(child.pid).memory_info().rss / 1048576.0
        except Exception:
            return
        if rss > self.config.max_child_rss and self.escalation is None:
            self.escalate("memory limit: child used %.0f MB > --max-child-rss %s MB"
                          % (rss, timeouts.format_seconds(self.config.max_child_rss)), 0)

    def retire_child(self):
        """Let every child go and wait until all are reaped (idle or leaving)."""
        self.children.let_all_go()
        deadline = time.monotonic() + self.config.term_timeout + 1.0
        while self.children.exiting:
            self.children.reap_exiting()
            if not self.children.exiting or time.monotonic() > deadline:
                break
            self.wait_fds((), 0.2)
            self.handle_signals(reap=False)

    # -- signals and the shutdown state machine -------------------------------------------------
    def handle_signals(self, reap=True):
        self.children.poll_server()
        for sig in self.signals.take():
            if sig == signal.SIGCHLD:
                self.chld_pending = True  # not reaping now: the next call that may, does
                continue
            name = signal_name(sig)
            self.log.event("signal", "received %s" % name)
            if sig == signal.SIGQUIT or (sig == signal.SIGTERM and self.config.graceful_term):
                self.stop("graceful", name)
            elif sig in (signal.SIGTERM, signal.SIGINT):
                self.stop("now", name)
            elif sig == signal.SIGUSR1:
                self.escalate("stopped by SIGUSR1", 0)
            elif sig == signal.SIGUSR2 and not self.paused:
                self.run_hooks("before_pause", self)
                self.paused = True
                self.log.event("paused", "paused by SIGUSR2")
            elif sig == signal.SIGCONT and self.paused:
                self.paused = False
                self.run_hooks("after_pause", self)
                self.log.event("resumed", "resumed by SIGCONT")
        if not reap:
            return
        chld, self.chld_pending = self.chld_pending, False
        # One reap a pass: on SIGCHLD, and with a fork server on every pass while children are
        # leaving, since its children announce their exits on its socket, not by SIGCHLD.
        if chld or (self.children.served and self.children.exiting):
            self.children.reap_exiting()
        if chld and self.pid == 1:
            self.children.reap_orphans()

    def stop(self, mode, reason):
        first = self.stopping is None
        if mode == "now" or reason == "SIGTERM":
            # A TERM may be the platform's, sent to every process (with --graceful-term too):
            # the parent decides the job's time. After QUIT, a TERM sent to the child alone
            # is the operator's and must still end it.
            timeouts.parent_stopping()
        if first or (mode == "now" and self.stopping == "graceful"):
            self.stopping = mode
            self.stop_reason = reason
            self.titles.stopping(reason)
        if first:
            self.run_hooks("shutdown")
        if mode == "now":
            self.escalate("worker shutting down (%s)" % reason, self.config.shutdown_timeout)

    def run_hooks(self, name, *args):
        try:
            hooks.run(name, *args)
        except Exception as exc:
            self.log.event("error", "%s hook failed: %r" % (name, exc))

    # -- waiting and ticks ---------------------------------------------------------
    def wait_fds(self, fds, timeout):
        fds = (self.signals,) + tuple(fds) + self.children.wake_fds()
        if self.scheduler is not None:  # the scheduler's next tick is a deadline too
            timeout = min(timeout, self.scheduler.next_at - time.monotonic())
        try:
            select.select(fds, (), (), max(0.0, timeout))
        except InterruptedError:
            pass

    def idle_wait(self, seconds):
        """Sleep until the interval is over, a job is announced, a signal changes what we
        should do, or a heartbeat is due."""
        until = time.monotonic() + seconds
        paused = self.paused
        while self.stopping is None and self.paused == paused:
            if self.waker is not None and self.waker.pending():
                return
            now = time.monotonic()
            if now >= until:
                return
            self.wait_fds(self.waker.fds() if self.waker else (), min(until, self.next_beat) - now)
            self.handle_signals()
            self.tick()

    def tick(self):
        """Heartbeat (and prune) when due: one try, never blocking the loop; while Redis is
        down the next try comes sooner, and the loop's own Redis calls do the backing off."""
        if self.scheduler is not None:
            self.scheduler.tick()
        if time.monotonic() < self.next_beat:
            return
        if self.pid == 1:  # a SIGCHLD can be lost (merged, or taken while not reaping)
            self.children.reap_orphans()
        try:
            self.beat(register=self.registered)
            self.prune()
        except REDIS_DOWN as exc:
            self.next_beat = time.monotonic() + min(5.0, self.config.heartbeat_interval)
            self.log.event("redis_down", "heartbeat failed: %s" % exc)

    def beat(self, register):
        """One heartbeat (one try: callers decide whether to back off or carry on)."""
        _iso, _now, was_registered = self.store.heartbeat(self.id,
                                                          self.started if register else "")
        self.next_beat = time.monotonic() + self.config.heartbeat_interval
        if register and not was_registered:
            self.log.event("warning", "worker keys were missing from Redis; registered again")

    def prune(self):
        try:
            prune.prune_dead_workers(self.store, self.hostname, self.id, self.config, self.log)
        except REDIS_DOWN:
            raise
        except Exception as exc:  # a bad record in Redis must not stop this worker
            self.log.event("error", "prune failed: %r" % exc)
