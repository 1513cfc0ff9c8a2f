"""`forkq pool`: N `forkq work` processes per queue set on this host (resque-pool's idea).

One thread, one loop, like the worker: handlers record signals and wake the loop. Workers that
die are restarted (with a backoff when they keep dying young); QUIT/TERM/INT are passed on and
the pool exits once every worker has; HUP re-reads the config file and replaces every worker,
as resque-pool does, so a deploy loads new code; USR1/USR2/CONT are passed on. The tables below
are the contract; man/forkq-pool.1 is written from them.
"""
import os
import select
import signal
import subprocess
import sys
import time

from setproctitle import setproctitle

from forkq.log import EventLog
from forkq.proc.signals import SignalBox
from forkq.proc.signals import name as signal_name
from forkq.proc.timeouts import describe_status

POOL_SIGNALS = (signal.SIGQUIT, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1,
                signal.SIGUSR2, signal.SIGCONT, signal.SIGCHLD)
YOUNG = 5.0          # a worker that dies sooner than this after starting is restarted later
MAX_BACKOFF = 30.0

SIGNALS = (
    ("QUIT", "passed on to every worker (each finishes its current job, then exits); the pool "
             "exits 0 once every worker has"),
    ("TERM", "passed on to every worker (each stops its job as its --shutdown-timeout and "
             "--term-timeout say); the pool exits 0 once every worker has"),
    ("INT", "as TERM (INT is passed on)"),
    ("HUP", "re-read the -c file, then replace every worker: each old one gets QUIT and "
            "finishes its job while its replacement starts at once, so new code is loaded "
            "without a gap; without -c the workers are still replaced"),
    ("USR1", "passed on: each worker stops its current job, records it as failed and goes on"),
    ("USR2", "passed on: each worker pauses after its current job"),
    ("CONT", "passed on: each worker resumes"),
    ("CHLD", "a worker exited: reap it and start its replacement"),
)

CONFIG_FORMAT = """One QUEUES = COUNT line per worker set: COUNT workers run
`forkq work --queues QUEUES`. Blank lines and everything after # are ignored; spaces do not matter; a set named twice adds up.
Sets given with -w or -n/-q are kept, unless the file names the same set, which then wins."""

CONFIG_EXAMPLE = ("# /etc/forkq/pool.conf", "critical,default = 2", "low = 1")

RESTARTS = """A worker that exits while the pool is not stopping is started again. One that lived
less than %d seconds is restarted after a delay that starts at 1 second and doubles with each
early death of its set, up to %d seconds; a worker that lived longer is replaced at once and
resets the delay. Workers the pool retired (after HUP, or a set made smaller) are not
replaced.""" % (YOUNG, MAX_BACKOFF)


class PoolConfigError(ValueError):
    pass


def parse_sets(items):
    """["critical,default=2", "low=1"] → {"critical,default": 2, "low": 1}."""
    sets = {}
    for item in items:
        queues, sep, count = item.rpartition("=")
        queues = ",".join(q.strip() for q in queues.split(",") if q.strip())
        try:
            n = int(count)
        except ValueError:
            n = -1
        if not sep or not queues or n < 0:
            raise PoolConfigError("%r: expected QUEUES=COUNT, e.g. critical,default=2" % item)
        sets[queues] = sets.get(queues, 0) + n
    return sets


def read_config(path):
    with open(path) as fh:
        lines = [line.split("#", 1)[0].strip() for line in fh]
    return parse_sets([line.replace(" ", "") for line in lines if line])


class Pool:
    """`children` are the workers that count towards the sets; `retiring` ones were sent QUIT
    (after HUP, or a smaller set) and are only waited for."""

    def __init__(self, sets, work_args, config_path=None, log=None):
        self.sets = dict(sets)
        self.base_sets = {q: n for q, n in sets.items()
                          if not config_path or q not in read_config(config_path)}
        self.work_args = list(work_args)
        self.config_path = config_path
        self.log = log or EventLog(verbose=True)
        self.children = {}      # pid -> (queues, Popen, started)
        self.retiring = {}      # the same, for workers told to QUIT and not to be replaced
        self.backoff = {}       # queues -> (next start allowed, delay)
        self.stopping = None
        self.signals = SignalBox()

    def run(self):
        self.signals.install(POOL_SIGNALS)
        self.log.event("startup", "pool starting", sets=self.describe())
        while True:
            if self.stopping is None:
                self.fill()
            setproctitle("forkq-pool: %d workers (%s)%s%s" % (
                len(self.children), self.describe(),
                ", %d retiring" % len(self.retiring) if self.retiring else "",
                " stopping" if self.stopping else ""))
            if self.stopping is not None and not self.children and not self.retiring:
                break
            try:
                select.select((self.signals,), (), (), 1.0)
            except InterruptedError:
                pass
            for sig in self.signals.take():
                self.on_signal(sig)
            self.reap()
        self.log.event("exit", "pool stopped", reason=self.stopping)
        self.signals.restore()
        return 0

    def describe(self):
        return ", ".join("%s=%d" % kv for kv in sorted(self.sets.items()))

    def running(self, queues):
        return [pid for pid, (q, _p, _t) in self.children.items() if q == queues]

    def fill(self):
        now = time.monotonic()
        for queues, count in self.sets.items():
            pids = self.running(queues)
            for pid in pids[count:]:  # HUP lowered the count: the extras finish and leave
                self.retire(pid)
            if len(pids) < count and now >= self.backoff.get(queues, (0, 0))[0]:
                for _ in range(count - len(pids)):
                    self.start(queues)
        for pid, (queues, _p, _t) in list(self.children.items()):
            if queues not in self.sets:
                self.retire(pid)

    def retire(self, pid):
        self.retiring[pid] = self.children.pop(pid)
        self.send(pid, signal.SIGQUIT)

    def start(self, queues):
        cmd = [sys.executable, "-m", "forkq", "work", "--queues", queues] + self.work_args
        proc = subprocess.Popen(cmd)
        self.children[proc.pid] = (queues, proc, time.monotonic())
        self.log.event("spawned", "worker %d for %s" % (proc.pid, queues), pid=proc.pid,
                       queues=queues)

    def send(self, pid, sig):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def on_signal(self, sig):
        if sig == signal.SIGCHLD:
            return
        self.log.event("signal", "received %s" % signal_name(sig))
        if sig in (signal.SIGQUIT, signal.SIGTERM, signal.SIGINT):
            self.stopping = signal_name(sig)
            for pid in list(self.children) + list(self.retiring):
                self.send(pid, sig)
        elif sig == signal.SIGHUP:
            if self.stopping is None:
                self.reload()
        else:
            for pid in list(self.children) + list(self.retiring):
                self.send(pid, sig)

    def reload(self):
        """resque-pool's HUP: the config again, and every worker replaced by a fresh one.
        The old ones get QUIT (a job in hand is finished) while fill() starts the new ones."""
        if self.config_path:
            try:
                self.sets = dict(self.base_sets, **read_config(self.config_path))
                self.log.event("reloaded", "config reloaded", sets=self.describe())
            except (OSError, PoolConfigError) as exc:
                self.log.event("error", "config not reloaded: %s" % exc)
        old = sorted(self.children)
        for pid in old:
            self.retire(pid)
        self.backoff.clear()  # new code may have fixed what made workers die young
        self.log.event("replacing", "%d workers (QUIT: each finishes its job first)" % len(old),
                       pids=old or None)

    def reap(self):
        for table in (self.children, self.retiring):
            for pid, (queues, proc, started) in list(table.items()):
                status = proc.poll()
                if status is None:
                    continue
                del table[pid]
                lived = time.monotonic() - started
                raw = (-status) if status < 0 else (status << 8)
                how = describe_status(raw)  # the event is "exited": say the rest once
                self.log.event("exited", "worker %d for %s %s after %.1f s" % (
                    pid, queues, how[len("exited "):] if how.startswith("exited ") else how,
                    lived), pid=pid, queues=queues,
                    status=describe_status(raw), retired=table is self.retiring or None)
                if table is self.children:
                    self.note_death(queues, lived)

    def note_death(self, queues, lived):
        """The next start of this set: at once after a worker that lived, later and later
        after each one that died young (a crash loop must not spin)."""
        if self.stopping is None:
            delay = self.backoff.get(queues, (0, 0))[1]
            delay = min(max(1.0, delay * 2), MAX_BACKOFF) if lived < YOUNG else 0
            self.backoff[queues] = (time.monotonic() + delay, delay)
