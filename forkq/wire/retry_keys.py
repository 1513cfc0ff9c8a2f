"""resque-retry's attempt counter and the unique-job lock keys, as pure functions (contract
§13; node-resque's QueueLock and JobLock for the locks).

The counter key must be the one Ruby builds, byte for byte, or a job retried by a Ruby worker
and one retried by forkq would count their attempts apart: `resque-retry:<Class>:<sha1 of
args.join('-')>` with every whitespace character taken out of the whole key, and no last part
when the join is empty. Ruby's Array#join flattens nested arrays, writes nil as "", floats as
Float#to_s and hashes as Hash#inspect (Ruby <= 3.3's `{"a"=>1}`; 3.4 writes `{"a" => 1}`).
"""
import hashlib
import json
import re

from forkq.wire.payload import _ruby_float

# Every key retries and unique jobs write, under the namespace (forkq-work(1) lists them).
KEYS = (
    ("resque-retry:<Class>[:<sha1>]", "a job's attempt counter, resque-retry's: SETNX -1 and "
     "INCR as an attempt starts (the first is 0), DEL on success and on give-up; sha1 of Ruby's "
     "args.join('-'), none when that is empty, whitespace taken out of the key"),
    ("failure-resque-retry:<Class>[:<sha1>]", "the last failure while a retry waits (no "
     "`failed` entry then), SETEX 2 x the delay, as resque-retry's "
     "MultipleWithRetrySuppression"),
    ("delayed:<ts>, timestamps:<item>, delayed_queue_schedule", "the next try, a "
     "resque-scheduler delayed job at Redis TIME + the delay (a scheduler moves it)"),
    ("lock:<Class>:<queue>:<args JSON>", "unique=until_executing/until_executed: node-resque "
     "QueueLock's lock, from enqueue; the value is the epoch second it expires"),
    ("workerslock:<Class>:<queue>:<args JSON>", "unique=while_executing: node-resque JobLock's "
     "lock, while the job runs; the value is the epoch second it expires, then :<claim sha1>"),
)

_RUBY_SPACE = re.compile(r"[ \t\n\v\f\r]")  # Ruby's /\s/ is ASCII whitespace only


def ruby_to_s(value):
    """What Ruby's Array#join writes for one element (a JSON value as Ruby decodes it)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _ruby_float(value)
    if isinstance(value, list):
        return ruby_join(value)
    if isinstance(value, dict):
        return ruby_inspect(value)
    raise TypeError("not a JSON value: %r" % (value,))


def ruby_join(values, sep="-"):
    """Ruby's Array#join: nested arrays are joined in place with the same separator."""
    return sep.join(ruby_to_s(v) for v in values)


_INSPECT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r",
                    "\f": "\\f", "\v": "\\v", "\b": "\\b", "\a": "\\a", "\x1b": "\\e"}


def _inspect_str(text):
    out = ['"']
    for i, ch in enumerate(text):
        if ch in _INSPECT_ESCAPES:
            out.append(_INSPECT_ESCAPES[ch])
        elif ch == "#" and text[i + 1:i + 2] in ("{", "$", "@"):
            out.append("\\#")  # Ruby escapes what would read back as interpolation
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u%04X" % ord(ch) if ord(ch) != 0x7F else "\\x7F")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def ruby_inspect(value):
    """Ruby 3.1's #inspect of a JSON value (what Hash#to_s and so Array#join write)."""
    if value is None:
        return "nil"
    if isinstance(value, str):
        return _inspect_str(value)
    if isinstance(value, list):
        return "[" + ", ".join(ruby_inspect(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join("%s=>%s" % (ruby_inspect(k), ruby_inspect(v))
                               for k, v in value.items()) + "}"
    return ruby_to_s(value)


def retry_identifier(args):
    """sha1 hex of args.join('-'), or None when the join is empty (resque-retry's
    retry_identifier)."""
    joined = ruby_join(args)
    return hashlib.sha1(joined.encode("utf-8")).hexdigest() if joined else None


def retry_key(class_name, args):
    """The attempt counter's logical key (no namespace), exactly as resque-retry builds it."""
    parts = ["resque-retry", class_name, retry_identifier(args)]
    return _RUBY_SPACE.sub("", ":".join(p for p in parts if p is not None))


def failure_key(counter_key):
    """MultipleWithRetrySuppression's record of the last failure while a retry is pending."""
    return "failure-" + counter_key


# --- unique jobs: node-resque's lock keys ------------------------------------------------------

def js_number(value):
    """A number as JavaScript's JSON.stringify writes it (node-resque builds its lock keys
    with it): 1.0 is "1", 1e21 is "1e+21", 1.5e-7 is "1.5e-7" (ECMA-262 Number::toString)."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")  # shortest round-trip digits
    whole, _, frac = mantissa.partition(".")
    exp = int(exponent or 0)
    if whole.strip("0"):
        point = len(whole.lstrip("0")) + exp  # value = 0.DIGITS * 10**point
    else:
        point = exp - (len(frac) - len(frac.lstrip("0")))
    digits = (whole + frac).strip("0")
    k = len(digits)
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    e = point - 1
    return "%s%s%se%s%d" % (sign, digits[0], "." + digits[1:] if k > 1 else "",
                            "+" if e >= 0 else "-", abs(e))


class _JsFloat(float):
    def __repr__(self):
        return js_number(float(self))


def _js_values(value):
    if isinstance(value, float):
        return _JsFloat(value)
    if isinstance(value, list):
        return [_js_values(v) for v in value]
    if isinstance(value, dict):
        return {k: _js_values(v) for k, v in value.items()}
    return value


def js_stringify(value):
    """JSON.stringify(value) for JSON values: compact, raw UTF-8, JS number spelling."""
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return "".join(json.encoder._make_iterencode(
        {}, encoder.default, json.encoder.py_encode_basestring, None, repr,
        ":", ",", False, False, True)(_js_values(value), 0))


def queue_lock_key(class_name, queue, args):
    """node-resque QueueLock's key: held from enqueue (until_executing, until_executed)."""
    return "lock:%s:%s:%s" % (class_name, queue, js_stringify(list(args)))


def job_lock_key(class_name, queue, args):
    """node-resque JobLock's key: held while the job runs (while_executing)."""
    return "workerslock:%s:%s:%s" % (class_name, queue, js_stringify(list(args)))
