"""How the worker stops: what the operator's signals ask of it (a stop, a pause, an
escalation), and the way out once its loop is over.

The handlers (proc.signals.SignalBox) only record a signal; the worker takes them in its one
wait point (Worker.wait) and hands each here, so a stop, a pause or an escalation is decided
between two steps of the loop and never in the middle of one."""
import signal

from forkq.proc import timeouts
from forkq.proc.signals import name as signal_name
from forkq.worker import safely
from forkq.worker.backoff import Stop


class Stopping:
    """The worker's stop (None, "graceful" or "now") and why, whether it is paused, and its
    way out.

    It holds the worker rather than its parts: hooks are given the worker, and the job, its
    children, log and Redis calls are the worker's at the moment a signal is acted on."""

    def __init__(self, worker):
        self.worker = worker
        self.mode = None              # None, "graceful" or "now"
        self.reason = None
        self.paused = False

    def on_signal(self, sig):
        """Act on one signal other than SIGCHLD (children are the worker's to reap)."""
        worker = self.worker
        name = signal_name(sig)
        worker.log.event("signal", "received %s" % name)
        if sig == signal.SIGQUIT or (sig == signal.SIGTERM and worker.config.graceful_term):
            self.stop("graceful", name)
        elif sig in (signal.SIGTERM, signal.SIGINT):
            self.stop("now", name)
        elif sig == signal.SIGUSR1:
            self.escalate("stopped by SIGUSR1", 0)
        elif sig == signal.SIGUSR2 and not self.paused:
            safely.run_hooks(worker.log, "before_pause", worker)
            self.paused = True
            worker.log.event("paused", "paused by SIGUSR2")
        elif sig == signal.SIGCONT and self.paused:
            self.paused = False
            safely.run_hooks(worker.log, "after_pause", worker)
            worker.log.event("resumed", "resumed by SIGCONT")

    def stop(self, mode, reason):
        worker = self.worker
        first = self.mode is None
        if mode == "now" or reason == "SIGTERM":
            # A TERM may be the platform's, sent to every process (with --graceful-term too):
            # the parent decides the job's time. After QUIT, a TERM sent to the child alone
            # is the operator's and must still end it.
            timeouts.parent_stopping()
        if first or (mode == "now" and self.mode == "graceful"):
            self.mode = mode
            self.reason = reason
            worker.titles.stopping(reason)
        if first:
            safely.run_hooks(worker.log, "shutdown")
        if mode == "now":
            self.escalate("worker shutting down (%s)" % reason, worker.config.shutdown_timeout)

    def escalate(self, reason, wait):
        if self.worker.job is not None:
            self.worker.job.escalate(reason, wait, self.worker.log)

    def check(self):
        """A stop asked for while Redis is away ends the wait rather than the worker hanging
        on: what is left is recorded on the way out, or by the next prune."""
        worker = self.worker
        if worker.calls.down and (self.mode == "now" or
                                  (self.mode and worker.children.current is None)):
            raise Stop()

    # -- the way out --------------------------------------------------------------------------------
    def leave(self, code):
        """What is left once the loop is over, for whatever reason, ending in exit `code`.
        Each step runs whatever an earlier one raised (clean_up): a bug in one must not leave
        our keys (and the job's record) to the next prune, nor change the code."""
        worker = self.worker

        def log_exit():
            worker.log.event("exit", "worker stopped", code=int(code), reason=self.reason)
        for step in (worker.children.end_current, worker.retire_children,
                     worker.children.stop_server, worker.ledger.flush, self.unregister,
                     self.release_scheduler, self.run_exit_hooks, log_exit,
                     worker.beat.close, worker.signals.restore):
            safely.clean_up(worker.log, step)

    def unregister(self):
        worker = self.worker
        if worker.waker is not None:
            worker.waker.close()
        worker.ledger.unregister(worker.registered, self.reason, again=worker.beat.abandoned)

    def release_scheduler(self):
        if self.worker.scheduler is not None:
            self.worker.scheduler.release()

    def run_exit_hooks(self):
        safely.run_hooks(self.worker.log, "worker_exit")
