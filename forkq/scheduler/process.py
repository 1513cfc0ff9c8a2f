"""`forkq scheduler`: the scheduler as its own process (a Procfile line
`scheduler: forkq scheduler`). One thread, one wait point: signal handlers only record and
wake the select on the signal box's fd; the loop acts, ticks the scheduler and sleeps until
the next tick is due. The master lock is released on every clean exit.
"""
import select
import signal
import time

from setproctitle import setproctitle

from forkq import __version__
from forkq.errors import ExitCode
from forkq.proc.signals import SignalBox
from forkq.proc.signals import name as signal_name
from forkq.scheduler.ticker import Scheduler

SCHEDULER_VERSION = "5.0.0"  # resque-scheduler's, whose keys and lock this speaks

# The contract for operators; man/forkq-scheduler.1 and docs/scheduler.rst carry these words.
SIGNALS = (
    (signal.SIGTERM, "TERM", "release the master lock (if held) and exit 0"),
    (signal.SIGINT, "INT", "as TERM"),
    (signal.SIGQUIT, "QUIT", "as TERM"),
    (signal.SIGUSR1, "USR1", "log every schedule and when it fires next"),
    (signal.SIGUSR2, "USR2", "reload the schedules from persistent_schedules (master)"),
)


class Titles:
    """resque-scheduler's procline shape with forkq's version; it says master or standby.
    (No `resque-<digit>`: a scheduler is not a worker, and Ruby's prune must not count it.)"""

    def __init__(self, prefix=""):
        self.head = "%sresque-scheduler-%s-forkq-%s: " % (prefix, SCHEDULER_VERSION,
                                                          __version__)

    def set(self, text):
        setproctitle(self.head + text)


class SchedulerProcess:
    def __init__(self, config, redis, log, default_queue=None):
        self.config = config
        self.log = log
        self.titles = Titles(config.procline_prefix)
        self.scheduler = Scheduler(redis, config, log, default_queue, on_role=self.role_changed)
        self.signals = SignalBox()
        self.stopping = None

    def role_changed(self, role):
        self.titles.set(role.describe())

    def run(self):
        self.signals.install(tuple(sig for sig, _name, _what in SIGNALS))
        self.titles.set("Starting")
        self.log.event("startup", "Starting scheduler %s" % self.scheduler.me,
                       redis=self.config.safe_redis_url, namespace=self.config.namespace,
                       lock=self.scheduler.store.lock_key, interval=self.config.scheduler_interval,
                       lock_timeout=self.config.lock_timeout)
        try:
            while self.stopping is None:
                self.handle_signals()
                if self.stopping is not None:
                    break
                due = self.scheduler.tick()
                self.wait(due - time.monotonic())
        finally:
            self.titles.set("Stopping (%s)" % (self.stopping or "error"))
            self.scheduler.release()
            self.log.event("exit", "scheduler stopped", reason=self.stopping,
                           moved=self.scheduler.mover.moved,
                           fired=self.scheduler.recurring.fired)
            self.signals.restore()
        return ExitCode.OK

    def wait(self, seconds):
        try:
            select.select([self.signals], [], [], max(0.0, seconds))
        except InterruptedError:
            pass

    def handle_signals(self):
        for sig in self.signals.take():
            name = signal_name(sig)
            self.log.event("signal", "received %s" % name)
            if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
                self.stopping = name
            elif sig == signal.SIGUSR1:
                self.log_schedules()
            elif sig == signal.SIGUSR2 and self.scheduler.role.master:
                self.scheduler.recurring.load(self.scheduler.redis_now() or time.time())

    def log_schedules(self):
        from forkq.wire import scheduler as wire
        self.log.event("schedules", "%s; %d schedule(s)" % (
            self.scheduler.role.describe(), len(self.scheduler.recurring.entries)))
        for entry in self.scheduler.recurring.entries.values():
            self.log.event("schedules", "%s: %s" % (entry.schedule.name,
                                                    entry.schedule.describe()),
                           next=wire.ruby_time_to_s(entry.next_slot))
