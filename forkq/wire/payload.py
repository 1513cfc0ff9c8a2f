"""Job payloads as JSON the way Ruby writes and reads them: encoding, strict decoding, and
the text shown for an entry that is not JSON."""
import json
import re

from forkq.errors import InvalidPayload
from forkq.wire.times import parse_time

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


_STRICT = json.JSONDecoder(parse_constant=_reject_constant)


def _strict_loads(text):
    """json.loads that refuses NaN and Infinity, as Ruby's JSON does."""
    return _STRICT.decode(text)


class _OutOfRange(ValueError):
    """A float literal so large Python reads it as inf (which would slip past the NaN and
    Infinity rule)."""


def _finite_float(spelled):
    # Called only for float literals, so plain payloads decode at json.loads' own speed.
    value = float(spelled)
    if value in (_INF, -_INF):
        raise _OutOfRange(spelled if len(spelled) <= 40 else spelled[:40] + "…")
    return value


# One decoder for every payload (json.loads with hooks builds a new one per call).
_PAYLOAD = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


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
        if text.startswith("\ufeff"):  # json.loads' own first check, kept
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        obj = _PAYLOAD.decode(text)
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
