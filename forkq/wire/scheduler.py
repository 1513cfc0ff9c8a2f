"""resque-scheduler 5.0's wire format (contract §12) as pure functions: key names, the delayed
item, the master lock's key and value, the moved job, and Ruby's time and duration shapes.

Nothing here touches Redis or the clock except through arguments, so every shape is checked
against golden vectors (tests/unit/test_wire_scheduler.py).
"""
import calendar
import datetime
import json
import math
import numbers
import re

from forkq.wire.payload import encode

LOCK_NAME = "resque_scheduler_master_lock"

# The keys of §12 as forkq uses them; man/build.py and docs/scheduler.rst print this table.
KEYS = (
    ("delayed_queue_schedule", "zset of the epoch seconds that have delayed jobs (member = "
     "score = <ts>)"),
    ("delayed:<ts>", "list of the jobs due at <ts>: {\"class\",\"args\",\"queue\"} in that "
     "key order, compact JSON"),
    ("timestamps:<item>", "set of \"delayed:<ts>\" an identical item is scheduled at; how "
     "remove_delayed and scheduled_at find a job"),
    ("persistent_schedules", "hash: schedule name -> JSON config (cron or every, class, queue, "
     "args, description), in the writer's key order"),
    ("schedules_changed", "set of schedule names changed since the master last looked"),
    ("delayed:last_enqueued_at", "hash: schedule name -> its last fire, Ruby's Time#to_s "
     "(2026-11-30 20:06:35 +0000); a fire's compare-and-set"),
    ("<ns>:<ns>:[<prefix>:]resque_scheduler_master_lock", "the master lock, namespaced twice as "
     "Ruby's resque-scheduler names it: value <host>:<pid>, TTL --lock-timeout, renewed every "
     "tick"),
    ("forkq:schedulers", "hash: forkq's running schedulers (lock value -> JSON with role and "
     "heartbeat), for forkq info and forkq workers"),
)


class DelayedKeys:
    """The §12 keys under one namespace (logical names prefixed once, like every Resque key)."""

    def __init__(self, namespace="resque"):
        self.namespace = namespace
        self.prefix = namespace + ":" if namespace else ""
        p = self.prefix
        self.schedule = p + "delayed_queue_schedule"
        self.last_enqueued_at = p + "delayed:last_enqueued_at"
        self.persistent_schedules = p + "persistent_schedules"
        self.schedules_changed = p + "schedules_changed"
        # forkq's own: which schedulers run (standbys are invisible in Ruby's keys)
        self.schedulers = p + "forkq:schedulers"

    def delayed(self, timestamp):
        return self.prefix + "delayed:%d" % int(timestamp)

    def timestamps(self, item):
        """timestamps:<the item's exact JSON> (bytes in, bytes out: the item may be anyone's)."""
        if isinstance(item, bytes):
            return self.prefix.encode() + b"timestamps:" + item
        return self.prefix + "timestamps:" + item

    def master_lock(self, lock_prefix=""):
        return master_lock_key(self.namespace, lock_prefix)


def master_lock_key(namespace="resque", lock_prefix=""):
    """The real Redis key of resque-scheduler's master lock. Ruby builds the logical name
    "<namespace>:<prefix:>resque_scheduler_master_lock" and redis-namespace prefixes it again,
    so the namespace appears twice; a RESQUE_SCHEDULER_MASTER_LOCK_PREFIX gets one ':' added
    (the README's own "MyApp:" gives "MyApp::")."""
    logical = (lock_prefix + ":" if lock_prefix else "") + LOCK_NAME
    if namespace:
        logical = namespace + ":" + logical  # Resque.redis.namespace, inside the name
        return namespace + ":" + logical     # and redis-namespace's own prefix
    return logical


def master_lock_value(hostname, pid):
    """"<host>:<pid>", host as resque-scheduler resolves it (see scheduler.lock.lock_hostname)."""
    return "%s:%d" % (hostname, pid)


# --- the delayed item ------------------------------------------------------------------------

def delayed_item(class_name, args, queue):
    """What delayed_push stores: compact {"class","args","queue"} in Ruby's key order."""
    return encode({"class": class_name, "args": list(args), "queue": queue})


def timestamp_of(when):
    """The integer epoch second resque-scheduler files a job under (`timestamp.to_i`): an
    aware datetime, or epoch seconds as a number. A naive datetime is refused: it has no
    single meaning across hosts."""
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("enqueue_at needs an aware datetime (with tzinfo) or epoch "
                             "seconds; got naive %s" % when.isoformat())
        return calendar.timegm(when.utctimetuple())
    if isinstance(when, bool) or not isinstance(when, numbers.Real):
        raise TypeError("enqueue_at takes an aware datetime or epoch seconds, not %r" % (when,))
    if not math.isfinite(when):
        raise ValueError("enqueue_at: %r is not a time" % (when,))
    return math.floor(when)  # Ruby's to_i truncates; a pre-1970 time is never "later"


def parse_at(text):
    """A command line's time: epoch seconds, or ISO 8601 with a zone ("Z" or an offset)."""
    text = str(text).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z")
                                               else text)
    except ValueError:
        raise ValueError("%r is neither epoch seconds nor an ISO 8601 time" % text) from None
    if when.tzinfo is None:
        raise ValueError("%r has no zone: add Z or an offset such as +01:00" % text)
    return when


def delay_of(seconds):
    """enqueue_in's number of seconds (Ruby refuses anything not Numeric)."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or \
            not math.isfinite(seconds):
        raise TypeError("Please supply a numeric number of seconds (got %r)" % (seconds,))
    return float(seconds)


def scheduled_at_from(members):
    """scheduled_at's timestamps from the members of timestamps:<item> ("delayed:<ts>")."""
    out = []
    for member in members:
        text = member.decode() if isinstance(member, bytes) else member
        digits = text.rpartition(":")[2]
        if digits.isdigit():
            out.append(int(digits))
    return sorted(out)


# --- moving a due item -----------------------------------------------------------------------

class Unmovable(ValueError):
    """A delayed item that cannot be put on a queue; the message goes into its failed entry.
    `exception` is the name the entry carries."""

    def __init__(self, message, exception="forkq.UnmovableDelayedJob"):
        super().__init__(message)
        self.exception = exception


def _reject_constant(name):
    raise ValueError("%s is not valid JSON" % name)


def moved_job(raw, default_queue=None):
    """(queue, fresh {"class","args"} JSON) for a due delayed item, by enqueue_from_config's
    rules: the item's "queue", else the job's default queue (`default_queue(class)`); a hash
    args is wrapped as [args], a missing or null args is [], a scalar is [scalar]; every other
    key is dropped. Raises Unmovable when there is no class or no queue."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise Unmovable("delayed item is not valid UTF-8 (%s)" % exc) from None
    try:
        item = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise Unmovable("delayed item is not valid JSON (%s)" % exc) from None
    if not isinstance(item, dict):
        raise Unmovable("delayed item is not a JSON object")
    name = item.get("class")
    if not isinstance(name, str) or not name.strip():
        raise Unmovable("delayed item has no \"class\"", "NameError")
    args = item.get("args")
    if args is None:
        args = []
    elif isinstance(args, dict):
        args = [args]
    elif not isinstance(args, list):
        args = [args]
    queue = item.get("queue")
    if not (isinstance(queue, str) and queue):
        queue = default_queue(name) if default_queue is not None else None
    if not queue:
        raise Unmovable("Jobs must be placed onto a queue. No queue could be inferred for "
                        "class %s (the delayed item has no \"queue\" and no job registered "
                        "in this scheduler names a default one)" % name,
                        "Resque::NoQueueError")
    try:
        payload = encode({"class": name, "args": args})
    except ValueError as exc:  # NaN/Infinity from a lenient writer
        raise Unmovable("delayed item cannot be re-encoded as Ruby would (%s)" % exc) from None
    return queue, payload


# --- Ruby's time and duration shapes ---------------------------------------------------------

def ruby_time_to_s(epoch, offset_seconds=0):
    """Time#to_s, "2026-11-30 20:06:35 +0000", in a fixed offset (forkq writes UTC)."""
    tz = datetime.timezone(datetime.timedelta(seconds=offset_seconds))
    moment = datetime.datetime.fromtimestamp(int(epoch), tz)
    sign = "-" if offset_seconds < 0 else "+"
    minutes = abs(offset_seconds) // 60
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + "%s%02d%02d" % (sign, minutes // 60,
                                                                    minutes % 60)


_RUBY_TIME = re.compile(r"^\s*(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.\d+)?\s*"
                        r"(UTC|Z|[+-]\d\d:?\d\d)?\s*$")


def parse_ruby_time(text):
    """Epoch seconds of a delayed:last_enqueued_at value (Time#to_s, any offset), or None."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    m = _RUBY_TIME.match(text or "")
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    zone = m.group(7)
    offset = 0
    if zone and zone not in ("UTC", "Z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    try:
        return calendar.timegm((y, mo, d, h, mi, s)) - offset
    except (ValueError, OverflowError):
        return None


# rufus-scheduler's duration units (Rufus::Scheduler.parse_duration): a year is 365 days and
# a month 30, as there.
_UNITS = {"y": 31536000, "M": 2592000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1,
          "ms": 0.001}
_DURATION = re.compile(r"(-?\d+(?:\.\d+)?)(ms|y|M|w|d|h|m|s)?")


def parse_duration(text):
    """Seconds of an `every` value: "30s", "5m", "1h30m", "2d", "1w", "1.5" (seconds)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        spec = str(text).strip()
        pos, seconds = 0, 0.0
        if not spec:
            raise ValueError("empty duration")
        for m in _DURATION.finditer(spec):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNITS[m.group(2) or "s"]
            pos = m.end()
        if pos != len(spec):
            raise ValueError("%r is not a duration (use 30s, 5m, 1h30m, 2d, 1w)" % spec)
    if seconds <= 0:
        raise ValueError("a duration must be positive: %r" % (text,))
    return seconds
