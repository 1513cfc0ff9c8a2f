"""Resque's time shapes (contract §5), all UTC, and parsing them back."""
import re
import time


def started_at(epoch):
    return time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(epoch))


def heartbeat_at(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


_RUN_AT = [None, ""]  # the last second formatted: each job's claim says when it started


def run_at(epoch):
    second = int(epoch)
    if _RUN_AT[0] != second:
        _RUN_AT[:] = second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
    return _RUN_AT[1]


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
