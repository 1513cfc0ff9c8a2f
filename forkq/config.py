"""One frozen Config for a worker, and the only place forkq reads the environment.

Every option is described once, in OPTIONS: its flags, its environment variables (forkq's own
FORKQ_* first, then Resque's names), its default and its help. The CLI builds its options from
this table and the man page documents it, so the three cannot drift apart.
"""
import dataclasses
import os
import re
from urllib.parse import urlsplit, urlunsplit

from forkq.wire import globs

DEFAULT_REDIS_URL = "redis://localhost:6379/0"


class ConfigError(ValueError):
    """A setting that cannot work; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Option:
    name: str
    flags: tuple
    env: tuple          # names; a trailing "?" means "set at all = on", as Ruby tests ENV.key?
    default: object
    kind: str           # str, float, int, bool, list, choice
    help: str
    choices: tuple = ()
    metavar: str = None


OPTIONS = (
    Option("queues", ("-q", "--queues"), ("FORKQ_QUEUES", "QUEUES", "QUEUE"), (), "list",
           "Queues to work, in priority order; comma list, repeatable. Globs (*, ?, [a-z]) and "
           "!exclusions as Resque.", metavar="Q[,Q...]"),
    Option("requires", ("-r", "--require"), ("FORKQ_REQUIRE",), (), "list",
           "Module to import in the parent before the first fork (registers jobs, preloads the "
           "app); repeatable.", metavar="MODULE"),
    Option("redis_url", ("--redis-url",), ("FORKQ_REDIS_URL", "REDIS_URL"), DEFAULT_REDIS_URL,
           "str", "Redis to use (redis://, rediss://, unix://; user:password@ for ACLs).",
           metavar="URL"),
    Option("namespace", ("--namespace",), ("FORKQ_NAMESPACE",), "resque", "str",
           "Key prefix, as Resque's redis-namespace.", metavar="NS"),
    Option("interval", ("--interval",), ("FORKQ_INTERVAL", "INTERVAL"), 5.0, "float",
           "Seconds between polls while idle; 0 means --burst.", metavar="SECONDS"),
    Option("timeout", ("--timeout",), ("FORKQ_TIMEOUT",), 1800.0, "float",
           "Default job timeout in seconds (a job's own timeout wins); 0 disables.",
           metavar="SECONDS"),
    Option("grace", ("--grace",), ("FORKQ_GRACE",), 2.0, "float",
           "Seconds past a job's timeout before the parent sends TERM to the child's process "
           "group (the child's own alarm fires first).", metavar="SECONDS"),
    Option("term_timeout", ("--term-timeout",), ("FORKQ_TERM_TIMEOUT", "RESQUE_TERM_TIMEOUT"),
           4.0, "float", "Seconds between TERM and KILL when the parent stops a child.",
           metavar="SECONDS"),
    Option("shutdown_timeout", ("--shutdown-timeout",),
           ("FORKQ_SHUTDOWN_TIMEOUT", "RESQUE_PRE_SHUTDOWN_TIMEOUT"), 0.0, "float",
           "On TERM/INT, seconds the running job may still finish before its child gets TERM.",
           metavar="SECONDS"),
    Option("requeue_on_shutdown", ("--requeue-on-shutdown",), ("FORKQ_REQUEUE_ON_SHUTDOWN",),
           False, "bool", "A job stopped by a shutdown goes back to the head of its queue "
           "instead of to failed (at-least-once)."),
    Option("graceful_term", ("--graceful-term",), ("FORKQ_GRACEFUL_TERM", "GRACEFUL_TERM?"),
           False, "bool", "TERM acts like QUIT: finish the current job, then exit."),
    Option("burst", ("--burst",), ("FORKQ_BURST",), False, "bool",
           "Work until the queues are empty, then exit 0."),
    Option("jobs_per_child", ("--jobs-per-child",), ("FORKQ_JOBS_PER_CHILD",), 1, "int",
           "Jobs one child performs before it exits (timeouts and records stay per job).",
           metavar="N"),
    Option("no_fork_server", ("--no-fork-server",), ("FORKQ_NO_FORK_SERVER",), False, "bool",
           "Fork job children from the worker itself instead of from the lean fork server "
           "(started before forkq loads its Redis client)."),
    Option("max_child_rss", ("--max-child-rss",), ("FORKQ_MAX_CHILD_RSS",), 0.0, "float",
           "Kill a child whose resident memory passes this many MB; 0 disables.", metavar="MB"),
    Option("heartbeat_interval", ("--heartbeat-interval",), ("FORKQ_HEARTBEAT_INTERVAL",), 60.0,
           "float", "Seconds between heartbeats (Resque: 60; must stay <= 60).",
           metavar="SECONDS"),
    Option("prune_interval", ("--prune-interval",), ("FORKQ_PRUNE_INTERVAL",), 300.0, "float",
           "A worker whose heartbeat is older than this is dead (Resque: 300).",
           metavar="SECONDS"),
    Option("pidfile", ("--pidfile",), ("FORKQ_PIDFILE", "PIDFILE"), None, "str",
           "Write the parent's pid to this file.", metavar="PATH"),
    Option("background", ("--background",), ("FORKQ_BACKGROUND", "BACKGROUND?"), False, "bool",
           "Detach from the terminal (double fork, stdio to /dev/null) before starting."),
    Option("verbose", ("-v", "--verbose"), ("FORKQ_VERBOSE", "VERBOSE?", "LOGGING?"), False,
           "bool", "Log every job event, not only failures and worker events."),
    Option("log_format", ("--log-format",), ("FORKQ_LOG_FORMAT",), "text", "choice",
           "Log lines as text or as one JSON object each.", choices=("text", "json")),
    Option("procline_prefix", ("--procline-prefix",), ("RESQUE_PROCLINE_PREFIX",), "", "str",
           "Pasted before the process title, as Resque's RESQUE_PROCLINE_PREFIX.",
           metavar="TEXT"),
    # The scheduler's (`forkq scheduler`, `forkq work --scheduler`): resque-scheduler's names.
    Option("scheduler", ("--scheduler",), ("FORKQ_SCHEDULER",), False, "bool",
           "Also run the scheduler (delayed jobs, recurring schedules) as a tick of this "
           "worker's loop; master by resque-scheduler's lock, standby otherwise."),
    Option("scheduler_interval", ("--scheduler-interval",),
           ("FORKQ_SCHEDULER_INTERVAL", "RESQUE_SCHEDULER_INTERVAL"), 1.0, "float",
           "Seconds between scheduler ticks (lock renewal, checks for new due jobs); a known "
           "due time is met just past its second whatever this is.", metavar="SECONDS"),
    Option("lock_timeout", ("--lock-timeout",), ("FORKQ_LOCK_TIMEOUT", "LOCK_TIMEOUT"), 180,
           "int", "TTL of resque-scheduler's master lock: after a master dies, a standby takes "
           "over when it expires (missed recurring fires up to this + 60 s old still fire).",
           metavar="SECONDS"),
    Option("lock_prefix", ("--lock-prefix",),
           ("FORKQ_LOCK_PREFIX", "RESQUE_SCHEDULER_MASTER_LOCK_PREFIX"), "", "str",
           "Prefix of the master lock's name, as RESQUE_SCHEDULER_MASTER_LOCK_PREFIX.",
           metavar="TEXT"),
    Option("delayed_batch_size", ("--delayed-batch-size",),
           ("FORKQ_DELAYED_BATCH_SIZE", "DELAYED_REQUEUE_BATCH_SIZE"), 100, "int",
           "Delayed jobs moved per atomic step (DELAYED_REQUEUE_BATCH_SIZE).", metavar="N"),
)

_BY_NAME = {o.name: o for o in OPTIONS}
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


@dataclasses.dataclass(frozen=True)
class Config:
    queues: tuple = ()
    requires: tuple = ()
    redis_url: str = DEFAULT_REDIS_URL
    namespace: str = "resque"
    interval: float = 5.0
    timeout: float = 1800.0
    grace: float = 2.0
    term_timeout: float = 4.0
    shutdown_timeout: float = 0.0
    requeue_on_shutdown: bool = False
    graceful_term: bool = False
    burst: bool = False
    jobs_per_child: int = 1
    no_fork_server: bool = False
    max_child_rss: float = 0.0
    heartbeat_interval: float = 60.0
    prune_interval: float = 300.0
    pidfile: str = None
    background: bool = False
    verbose: bool = False
    log_format: str = "text"
    procline_prefix: str = ""
    scheduler: bool = False
    scheduler_interval: float = 1.0
    lock_timeout: int = 180
    lock_prefix: str = ""
    delayed_batch_size: int = 100

    @classmethod
    def load(cls, overrides=None, environ=None, need_queues=False):
        """Command-line values (None = not given) over environment over defaults."""
        environ = os.environ if environ is None else environ
        overrides = overrides or {}
        values = {}
        for opt in OPTIONS:
            given = overrides.get(opt.name)
            if given is not None and given != ():
                values[opt.name] = _coerce(opt, given, "--" + opt.name.replace("_", "-"))
                continue
            values[opt.name] = opt.default
            for var in opt.env:
                presence = var.endswith("?")
                var = var.rstrip("?")
                if var in environ:
                    values[opt.name] = True if presence else _coerce(opt, environ[var], var)
                    break
        config = cls(**values)
        config.validate(need_queues)
        return config

    def validate(self, need_queues=False):
        if need_queues and not self.queues:
            raise ConfigError("Please give each worker at least one queue "
                              "(--queues critical,default or QUEUES=critical,default).")
        for q in self.queues:
            if ":" in q:
                raise ConfigError("queue %r contains ':', which breaks Resque worker ids" % q)
            why = globs.unsupported(q)
            if why:
                raise ConfigError(why)
        for name in ("interval", "timeout", "grace", "term_timeout", "shutdown_timeout",
                     "max_child_rss"):
            if getattr(self, name) < 0:
                raise ConfigError("--%s must not be negative" % name.replace("_", "-"))
        if not 0 < self.heartbeat_interval <= 60:
            raise ConfigError("--heartbeat-interval must be in (0, 60]: Ruby prunes workers "
                              "whose heartbeat is older than 300 s and expects one a minute")
        if self.prune_interval <= self.heartbeat_interval:
            raise ConfigError("--prune-interval must be longer than --heartbeat-interval")
        if self.jobs_per_child < 1:
            raise ConfigError("--jobs-per-child must be at least 1")
        if self.lock_timeout < 1 or self.delayed_batch_size < 1:
            raise ConfigError("--lock-timeout and --delayed-batch-size must be at least 1")
        if not 0 < self.scheduler_interval < self.lock_timeout:
            raise ConfigError("--scheduler-interval must be above 0 and below --lock-timeout "
                              "(the master renews its lock every tick)")

    @property
    def draining(self):
        """--burst, or Resque's INTERVAL=0."""
        return self.burst or self.interval == 0

    @property
    def safe_redis_url(self):
        return redact_url(self.redis_url)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def _coerce(opt, value, source):
    try:
        if opt.kind == "list":
            items = value if isinstance(value, (list, tuple)) else [value]
            return tuple(part.strip() for item in items for part in str(item).split(",")
                         if part.strip())
        if opt.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError("not a yes/no value")
        if opt.kind == "float":
            return float(value)
        if opt.kind == "int":
            return int(value)
        if opt.kind == "choice":
            if value not in opt.choices:
                raise ValueError("choose one of " + ", ".join(opt.choices))
        return value
    except ValueError as exc:
        raise ConfigError("%s=%r: %s" % (source, value, exc)) from None


def option(name):
    return _BY_NAME[name]


def redis_url_from_env(environ=None):
    """The connection producers use when none is passed: REDIS_URL, else localhost."""
    environ = os.environ if environ is None else environ
    return environ.get("FORKQ_REDIS_URL") or environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def namespace_from_env(environ=None):
    environ = os.environ if environ is None else environ
    return environ.get("FORKQ_NAMESPACE", "resque")


def redact_url(url):
    """The URL with any password replaced, for titles, logs and failure records."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^@/]*@", "//***@", url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = "%s:%d" % (host, parts.port)
    return urlunsplit((parts.scheme, "%s:***@%s" % (user, host), parts.path, parts.query,
                       parts.fragment))
