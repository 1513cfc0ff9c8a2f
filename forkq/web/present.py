"""How values from Redis read on a page: text from bytes that may not be UTF-8, JSON shown
compactly or indented, times as ISO for the browser and as "12 s ago" for a reader, and the
page arithmetic of a long list. Every function returns plain text; the templates escape it."""
import hashlib
import json
import time

from forkq import wire


def text(value):
    """Bytes as text: valid UTF-8 as is, bad bytes as \\xNN (never a decode error)."""
    if value is None:
        return None
    return wire.display_text(value) if isinstance(value, bytes) else str(value)


def compact(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def pretty(value):
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def short(value, width=90):
    value = " ".join(str(value).split())
    return value if len(value) <= width else value[:width - 1] + "…"


def digest(raw):
    """What a page says it showed, so that an action can check the entry is still that one."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    return hashlib.sha1(raw).hexdigest()[:20]


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def ago(epoch, now):
    """ "12 s ago", "3 min ago", "in 5 s": forkq.js keeps this current in the browser."""
    delta = now - epoch
    future = delta < 0
    delta = abs(delta)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if delta >= size:
            amount = "%d %s" % (delta // size, unit)
            break
    else:
        amount = "%d s" % delta
    return "in " + amount if future else amount + " ago"


def epoch_of(value):
    """Epoch seconds of any of Resque's time shapes (failed_at, run_at, started, heartbeat),
    or None when it is none of them: the page then shows the text as it is."""
    if not isinstance(value, str) or not value:
        return None
    shaped = value.strip()
    if shaped.endswith(" UTC") and "/" in shaped[:10]:  # failed_at: 2026/11/23 00:48:52 UTC
        shaped = shaped[:-4].replace("/", "-", 2) + "Z"
    return wire.parse_started(shaped) or wire.parse_time(shaped)


class Pages:
    """Page N (1-based) of `total` items, `per` a page; link(n) is the URL of page n."""

    def __init__(self, page, per, total, link):
        self.per = per
        self.total = total
        self.total_pages = max(1, -(-total // per))
        self.page = min(max(1, page), self.total_pages)
        self.link = link

    @property
    def offset(self):
        return (self.page - 1) * self.per

    @property
    def prev(self):
        return self.page - 1 if self.page > 1 else None

    @property
    def next(self):
        return self.page + 1 if self.page < self.total_pages else None


def int_arg(args, name, default, low=0):
    try:
        return max(low, int(args.get(name, default)))
    except (TypeError, ValueError):
        return default
