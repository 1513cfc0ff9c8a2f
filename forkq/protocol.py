"""Resque's wire format as pure functions: key names, ids, JSON, time shapes, queue globs.

Everything here follows ../shared/RESQUE_CONTRACT.md; nothing here touches Redis or the clock
except through arguments, so every shape can be checked against golden vectors.
"""
import json
import re
import time

from .errors import InvalidPayload
from .globs import (expand_queues, glob_dot_flag, glob_match, glob_regex,  # noqa: F401
                    glob_to_lua, is_dynamic)

RESQUE_VERSION = "3.0.0"


class Keys:
    """Every Redis key forkq reads or writes, under one namespace (logical names of §2)."""

    def __init__(self, namespace="resque"):
        self.prefix = namespace + ":" if namespace else ""
        p = self.prefix
        self.queues = p + "queues"
        self.workers = p + "workers"
        self.heartbeat = p + "workers:heartbeat"
        self.failed = p + "failed"
        self.processed = p + "stat:processed"
        self.failed_count = p + "stat:failed"
        self.prune_lock = p + "pruning_dead_workers_in_progress"
        self.pause_all = p + "pause-all-workers"
        self.delayed_schedule = p + "delayed_queue_schedule"

    def queue(self, name):
        return self.prefix + "queue:" + name

    def worker(self, worker_id):
        return self.prefix + "worker:" + worker_id

    def started(self, worker_id):
        return self.prefix + "worker:" + worker_id + ":started"

    def processed_by(self, worker_id):
        return self.prefix + "stat:processed:" + worker_id

    def failed_by(self, worker_id):
        return self.prefix + "stat:failed:" + worker_id

    def delayed(self, timestamp):
        return self.prefix + "delayed:" + str(int(timestamp))

    def key(self, name):
        """Any key named as resque-web's Stats tab names it: without the namespace."""
        return self.prefix + name

    def all_pattern(self):
        """A SCAN pattern for every key of the namespace (glob characters in it escaped)."""
        return "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix) + "*"

    def wake_channel(self):
        # Not a key: a pub/sub channel forkq producers publish on so idle workers start at once.
        return self.prefix + "forkq:wake"

    def worker_keys(self, worker_id):
        """The keys Ruby's unregister_worker deletes (plus the set member and heartbeat field)."""
        return (self.worker(worker_id), self.started(worker_id),
                self.processed_by(worker_id), self.failed_by(worker_id))


# --- JSON ---------------------------------------------------------------------------------

_SCI_FLOAT = re.compile(r"[0-9]e[+-][0-9]")
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _ruby_float(value):
    # Ruby prints 1e+20 as 1.0e+20: same thresholds as Python's repr, but the mantissa keeps ".0".
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("Ruby's JSON cannot carry NaN or Infinity: %r" % value)
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        text = mantissa + ".0e" + exponent
    return text


def _ruby_encoder():
    # Pure-Python encoding path with Ruby's float spelling; used only when a float needs it.
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return json.encoder._make_iterencode(
        {}, encoder.default, json.encoder.py_encode_basestring, None, _ruby_float,
        ":", ",", False, False, True)


def encode(obj):
    """Compact JSON as Ruby's MultiJson writes it: no spaces, raw UTF-8, Ruby float form, no NaN."""
    text = _compact.encode(obj)
    if _SCI_FLOAT.search(text):
        text = "".join(_ruby_encoder()(obj, 0))
    return text


def job_payload(class_name, args):
    """The queue entry Job.create writes: exactly {"class":…,"args":[…]}."""
    return encode({"class": class_name, "args": list(args)})


def _reject_constant(name):
    raise ValueError("%s is not valid JSON (Ruby refuses it)" % name)


def _strict_loads(text):
    """json.loads that refuses NaN and Infinity, as Ruby's JSON does."""
    return json.loads(text, parse_constant=_reject_constant)


class _OutOfRange(ValueError):
    """A float literal so large Python reads it as inf (which would slip past the NaN and
    Infinity rule)."""


def _finite_float(spelled):
    # Called only for float literals, so plain payloads decode at json.loads' own speed.
    value = float(spelled)
    if value in (_INF, -_INF):
        raise _OutOfRange(spelled if len(spelled) <= 40 else spelled[:40] + "…")
    return value


_INF = float("inf")
# Python 3.11 (and security releases of 3.9 and 3.10) refuse int("…") past a digit limit
# (4,300 by default); json.loads then raises this ValueError, which says how many digits.
_TOO_MANY_DIGITS = re.compile(r"limit \((\d+) digits\).*value has (\d+) digits")


def decode_payload(raw):
    """Check a popped entry the way a careful worker must: UTF-8, strict JSON, an object with a
    non-empty string class and a list of args. Returns the decoded dict or raises InvalidPayload."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise InvalidPayload("payload is not valid UTF-8 (%s)" % exc) from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise InvalidPayload("payload JSON is nested too deeply to decode") from None
    except _OutOfRange as exc:
        raise InvalidPayload("payload has a number out of range: %s" % exc,
                             _starts_object(text)) from None
    except ValueError as exc:
        digits = _TOO_MANY_DIGITS.search(str(exc))
        if digits:
            raise InvalidPayload("payload has an integer of %s digits, more than Python's "
                                 "limit of %s" % (digits.group(2), digits.group(1)),
                                 _starts_object(text)) from None
        raise InvalidPayload("payload is not valid JSON: %s" % exc) from None
    if not isinstance(obj, dict):
        raise InvalidPayload("payload is a JSON %s, not an object with \"class\" and \"args\""
                             % _json_type(obj))
    if "class" not in obj:
        raise InvalidPayload("payload has no \"class\"", True)
    name = obj["class"]
    if not isinstance(name, str):
        raise InvalidPayload("payload \"class\" is a JSON %s, not a string" % _json_type(name), True)
    if not name.strip():
        raise InvalidPayload("payload \"class\" is empty", True)
    args = obj.get("args", [])
    if args is None:
        args = []
    if not isinstance(args, list):
        raise InvalidPayload("payload \"args\" is a JSON %s, not an array" % _json_type(args), True)
    obj["args"] = args
    return obj


def _starts_object(text):
    return text.lstrip(" \t\r\n")[:1] == "{"


def _json_type(value):
    for kind, name in ((bool, "boolean"), (dict, "object"), (list, "array"), (str, "string"),
                       ((int, float), "number")):
        if isinstance(value, kind):
            return name
    return "null"


def enqueued_at(payload):
    """When the payload says it was enqueued (epoch seconds), or None. Resque's own payloads do
    not say; ActiveJob's wrapper (args[0]["enqueued_at"]) and some producers do."""
    candidates = [payload.get("enqueued_at")]
    args = payload.get("args")
    if isinstance(args, list) and args and isinstance(args[0], dict):
        candidates.append(args[0].get("enqueued_at"))
    for value in candidates:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value) / 1000.0 if value > 1e11 else float(value)  # ms or s
        if isinstance(value, str):
            parsed = parse_time(value)
            if parsed is not None:
                return parsed
    return None


def display_text(raw, limit=None):
    """A raw entry as text for failure records: valid UTF-8 as is, bad bytes as \\xNN."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "backslashreplace")
    if limit is not None and len(raw) > limit:
        raw = raw[:limit] + "… (%d more characters)" % (len(raw) - limit)
    return raw


# --- worker identity and claims ----------------------------------------------------------

def worker_id(hostname, pid, queues):
    """host:pid:queues as configured, exclusions left out (§4.1)."""
    shown = [q for q in queues if not q.startswith("!")]
    return "%s:%d:%s" % (hostname, pid, ",".join(shown))


def parse_worker_id(wid):
    """(host, pid, [queues]) the way resque-web reads an id: split without a limit."""
    parts = wid.split(":")
    host = parts[0]
    pid = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    queues = parts[2].split(",") if len(parts) > 2 and parts[2] else []
    return host, pid, queues


def claim_json(queue, run_at, raw_payload, worker=None, seq=None):
    """The worker:<id> value (§4.3): Ruby's keys in Ruby's order, then node-resque's "worker"
    (host:pid) and forkq's "seq" (the worker's claim number, which makes every claim of a
    worker unique) when given. The store's reserve script writes the same shape."""
    text = '{"queue":%s,"run_at":%s,"payload":%s' % (encode(queue), encode(run_at), raw_payload)
    if worker is not None:
        text += ',"worker":' + encode(worker)
    if seq is not None:
        text += ',"seq":%d' % seq
    return text + "}"


# What follows the payload in a claim: nothing (Ruby), "worker" (node-resque), "worker" and
# "seq" (forkq). split_claim cuts it off to keep the payload's bytes as they were popped.
_CLAIM_TAIL = re.compile(r'(?:,"worker":"(?:[^"\\]|\\.)*")?(?:,"seq":[0-9]+)?\}\s*$')


def split_claim(claim):
    """(queue, raw payload, payload is a JSON object, class) from any worker:<id> value:
    forkq's, Ruby's or node-resque's. The payload's bytes are kept when they can be cut out
    as they are; a payload the reserve script had to quote (not a JSON object) comes back as
    its original bytes."""
    text = claim.decode("utf-8", "replace") if isinstance(claim, bytes) else claim
    try:
        whole = _strict_loads(text)
    except (ValueError, RecursionError):
        return "", text, False, None
    if not isinstance(whole, dict):
        return "", text, False, None
    queue = whole.get("queue") if isinstance(whole.get("queue"), str) else ""
    payload = whole.get("payload")
    if isinstance(payload, str):
        return queue, payload.encode("latin-1", "replace"), False, None
    if not isinstance(payload, dict):
        return queue, _encode_or(payload, text) if payload is not None else text, False, None
    raw = None
    marker = text.find(',"payload":')
    if marker > 0:
        candidate = _CLAIM_TAIL.sub("", text[marker + len(',"payload":'):])
        try:
            if _strict_loads(candidate) == payload:
                raw = candidate
        except (ValueError, RecursionError):
            pass
    job_class = payload.get("class")
    job_class = job_class if isinstance(job_class, str) else None
    if raw is None:
        raw = _encode_or(payload, None)
        if raw is None:  # 1e999 read as inf: keep the claim's text rather than lose the job
            return queue, text, False, job_class
    return queue, raw, True, job_class


def _encode_or(value, fallback):
    try:
        return encode(value)
    except ValueError:
        return fallback


# --- failures ----------------------------------------------------------------------------

def failure_json(failed_at, raw_payload, exception, error, backtrace, worker, queue,
                 payload_is_json=True):
    """A `failed` entry in Resque's key order. A payload that was valid JSON is spliced in as
    popped (extra keys, float spelling and all); anything else is kept as a JSON string."""
    if payload_is_json:
        payload = clean_text(raw_payload)
    else:
        payload = encode(clean_text(display_text(raw_payload)))
    return ('{"failed_at":%s,"payload":%s,"exception":%s,"error":%s,"backtrace":%s,'
            '"worker":%s,"queue":%s}' % (
                encode(clean_text(failed_at)), payload, encode(clean_text(exception)),
                encode(clean_text(error)), encode([clean_text(line) for line in backtrace]),
                encode(clean_text(worker)), encode(clean_text(queue))))


def clean_text(value):
    """Text that encodes as UTF-8, as Redis and Ruby need it: a lone surrogate (what
    os.fsdecode makes of a file name's bad bytes) becomes "?", as Ruby's String#scrub does."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


# --- time shapes (§5); all UTC --------------------------------------------------------------

def started_at(epoch):
    return time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(epoch))


def heartbeat_at(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


def run_at(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def failed_at(epoch):
    return time.strftime("%Y/%m/%d %H:%M:%S UTC", time.gmtime(epoch))


_ISO = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?$")


def parse_time(text):
    """Epoch seconds from the ISO shapes Ruby's Time.parse reads for heartbeats; None if not."""
    m = _ISO.match(text.strip()) if text else None
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = float(m.group(7) or 0)
    zone = m.group(8)
    offset = 0
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    elif not zone:
        offset = -time.timezone  # no zone: local time, as Ruby reads it
    import calendar
    return calendar.timegm((y, mo, d, h, mi, s)) + frac - offset


def parse_started(text):
    """Epoch seconds of a worker:<id>:started value (Time#to_s: 2026-11-23 00:48:52 +0000)."""
    m = re.match(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d{4})$", (text or "").strip())
    if not m:
        return None
    return parse_time("%sT%s%s" % m.groups())
