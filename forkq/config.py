"""One frozen Config for a worker, and the only place forkq reads the environment.

Every option is described once, in OPTIONS: its flags, its environment variables (forkq's own
FORKQ_* first, then Resque's names), its default and its help. The CLI builds its options from
this table and the man page documents it, so the three cannot drift apart.
"""
import dataclasses
import math
import os
import re
from urllib.parse import parse_qsl, quote, urlsplit

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

    @property
    def flag(self):
        """The option's name on the command line, as messages say it: --queues."""
        return next(f for f in self.flags if f.startswith("--"))


OPTIONS = (
    Option("queues", ("-q", "--queues", "--queue"), ("FORKQ_QUEUES", "QUEUES", "QUEUE"), (),
           "list",
           "Queues to work, in priority order; comma list, repeatable. Globs (*, ?, [a-z]) and "
           "!exclusions as Resque.", metavar="Q[,Q...]"),
    Option("requires", ("-r", "--require"), ("FORKQ_REQUIRE",), (), "list",
           "Module to import in the parent before the first fork (registers jobs, preloads the "
           "app); repeatable.", metavar="MODULE"),
    Option("redis_url", ("--redis-url",), ("FORKQ_REDIS_URL", "REDIS_URL"), DEFAULT_REDIS_URL,
           "str", "Redis to use (redis://, rediss://, unix://; user:password@ for ACLs).",
           metavar="URL"),
    Option("redis_url_file", ("--redis-url-file",), ("FORKQ_REDIS_URL_FILE",), None, "str",
           "Read the Redis URL from this file's first line, so a password never reaches argv, "
           "the process list or the environment (preferred over --redis-url for secrets).",
           metavar="PATH"),
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


_TYPES = {"str": str, "float": float, "int": int, "bool": bool, "list": tuple, "choice": str}

# Where the Redis URL came from, in the order they win (said when Redis cannot be reached).
URL_SOURCES = ("--redis-url", "--redis-url-file", "FORKQ_REDIS_URL", "REDIS_URL", "default")


def _fields_from_options(cls):
    """Make `cls` a frozen dataclass whose fields are OPTIONS, in order, with their defaults:
    every default is written once, in OPTIONS."""
    cls.__annotations__ = dict({o.name: _TYPES[o.kind] for o in OPTIONS},
                               redis_url_source=str)
    for opt in OPTIONS:
        setattr(cls, opt.name, opt.default)
    cls.redis_url_source = "default"
    return dataclasses.dataclass(frozen=True)(cls)


@_fields_from_options
class Config:
    """One field per option in OPTIONS (same name, its default), plus redis_url_source: which
    of URL_SOURCES gave the Redis URL."""

    @classmethod
    def load(cls, overrides=None, environ=None, need_queues=False):
        """Command-line values (None = not given) over environment over defaults."""
        environ = os.environ if environ is None else environ
        overrides = overrides or {}
        values = {}
        sources = {}
        for opt in OPTIONS:
            given = overrides.get(opt.name)
            if given is not None and given != ():
                values[opt.name] = _coerce(opt, given, opt.flag)
                sources[opt.name] = opt.flag
                continue
            values[opt.name] = opt.default
            sources[opt.name] = "default"
            for var in opt.env:
                presence = var.endswith("?")
                var = var.rstrip("?")
                if var in environ:
                    values[opt.name] = True if presence else _coerce(opt, environ[var], var)
                    sources[opt.name] = var
                    break
        values["redis_url"], values["redis_url_source"] = _redis_url(values, sources)
        config = cls(**values)
        config.validate(need_queues)
        return config

    def validate(self, need_queues=False):
        if need_queues and not self.queues:
            raise ConfigError("Please give each worker at least one queue "
                              "(--queues critical,default or QUEUES=critical,default).")
        from forkq.store import address  # reads the URL only: no redis-py
        address.check(self.redis_url)
        for q in self.queues:
            if ":" in q:
                raise ConfigError("queue %r contains ':', which breaks Resque worker ids" % q)
            why = globs.unsupported(q)
            if why:
                raise ConfigError(why)
        for opt in OPTIONS:
            value = getattr(self, opt.name)
            if opt.kind == "float" and not math.isfinite(value):
                # NaN compares false with everything: --grace nan would never enforce a
                # timeout, --interval nan would spin; infinity is no better a duration
                raise ConfigError("%s must be a finite number, not %r"
                                  % (opt.flag, value))
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
            number = float(value)
            if not math.isfinite(number):
                raise ValueError("not a finite number (NaN and infinity are refused)")
            return number
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
    return redis_url_and_source(environ)[0]


def redis_url_and_source(environ=None):
    """(url, where it came from) by the worker's rules, from the environment alone:
    FORKQ_REDIS_URL_FILE, FORKQ_REDIS_URL, REDIS_URL, the default."""
    environ = os.environ if environ is None else environ
    values = {o.name: o.default for o in OPTIONS if o.name in ("redis_url", "redis_url_file")}
    sources = {"redis_url": "default", "redis_url_file": "default"}
    for name, var in (("redis_url_file", "FORKQ_REDIS_URL_FILE"),
                      ("redis_url", "FORKQ_REDIS_URL"), ("redis_url", "REDIS_URL")):
        if environ.get(var) and sources[name] == "default":
            values[name], sources[name] = environ[var], var
    return _redis_url(values, sources)


def namespace_from_env(environ=None):
    environ = os.environ if environ is None else environ
    return environ.get("FORKQ_NAMESPACE", "resque")


def lock_prefix_from_env(environ=None):
    """The scheduler master lock's prefix as `forkq scheduler` reads it (--lock-prefix's
    variables), so the operator's views find the lock the scheduler holds."""
    environ = os.environ if environ is None else environ
    return environ.get("FORKQ_LOCK_PREFIX") or environ.get(
        "RESQUE_SCHEDULER_MASTER_LOCK_PREFIX") or ""


def _redis_url(values, sources):
    """(url, where it came from): --redis-url, then --redis-url-file (or
    FORKQ_REDIS_URL_FILE), then FORKQ_REDIS_URL, REDIS_URL, the default."""
    path = values.get("redis_url_file")
    path_from = sources.get("redis_url_file")
    if path is None or sources["redis_url"] == "--redis-url":
        if path is not None and path_from == "--redis-url-file":
            raise ConfigError("give --redis-url or --redis-url-file, not both")
        return values["redis_url"], sources["redis_url"]
    try:
        with open(path) as fh:
            url = fh.readline().strip()
    except OSError as exc:
        raise ConfigError("%s %s: %s" % (path_from, path, exc.strerror or exc)) from None
    if not url:
        raise ConfigError("%s %s: the file's first line is empty" % (path_from, path))
    label = "--redis-url-file" if path_from == "--redis-url-file" else path_from
    return url, "%s %s" % (label, path)


# Query parameters redis-py turns into credentials (password=, username=,
# sentinel_password=, ssl_password=...): their values never reach a title, log or --json.
_SECRET_PARAM = re.compile(r"pass|user|secret|token|auth|cred", re.IGNORECASE)


def redact_url(url):
    """The URL with every credential redis-py would read from it replaced by ***: the password
    of user:password@, and the values of password=, username=, sentinel_password= and the like
    in the query. The one redaction for titles, logs, --json output and error messages."""
    try:
        parts = urlsplit(url)
        password = parts.password
        username = parts.username
        hostinfo = parts.netloc.rpartition("@")[2]
    except ValueError:
        text = re.sub(r"//[^@/]*@", "//***@", str(url))
        return re.sub(r"((?:%s)[^=&]*=)[^&#]*" % _SECRET_PARAM.pattern, r"\1***", text,
                      flags=re.IGNORECASE)
    netloc = parts.netloc
    if password is not None:
        netloc = "%s:***@%s" % (username or "", hostinfo)
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAM.search(k) for k, _v in pairs):
            query = "&".join("%s=%s" % (quote(k, safe=""),
                                        "***" if _SECRET_PARAM.search(k) else quote(v, safe=""))
                             for k, v in pairs)
    if netloc == parts.netloc and query == parts.query:
        return url
    # by hand, not urlunsplit: that drops the empty host of unix:///path
    return "%s://%s%s%s%s" % (parts.scheme, netloc, parts.path, "?" + query if query else "",
                              "#" + parts.fragment if parts.fragment else "")
