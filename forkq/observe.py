"""Process titles, the event log (text or JSON), and per-job resource figures.

Titles keep Resque's shape, `resque-<version>: <what>`, because a starting Ruby worker on this
host greps `ps` for `[r]esque-[0-9]` and prunes registered workers it does not find.
"""
import json
import sys
import time

from setproctitle import setproctitle

from . import __version__
from .protocol import RESQUE_VERSION


class Titles:
    def __init__(self, prefix=""):
        self.head = "%sresque-%s-forkq-%s: " % (prefix, RESQUE_VERSION, __version__)

    def set(self, text):
        setproctitle(self.head + text)

    def starting(self):
        self.set("Starting")

    def waiting(self, queues):
        self.set("Waiting for " + ",".join(queues))

    def paused(self):
        self.set("Paused")

    def processing(self, queue, since, class_name):
        self.set("Processing %s since %d [%s]" % (queue, since, class_name or "No Name"))

    def forked(self, pid, at):
        self.set("Forked %d at %d" % (pid, at))

    def stopping(self, why):
        self.set("Stopping (%s)" % why)


class EventLog:
    """One line per event on stderr. Failures and worker events always; job starts and
    successes with --verbose. JSON lines carry the same fields as the text form."""

    ALWAYS = {"startup", "shutdown", "failed", "redis_down", "redis_up", "pruned", "error",
              "signal", "requeued", "warning", "exit", "paused", "resumed"}

    def __init__(self, fmt="text", verbose=False, stream=None, worker_id=None):
        self.json = fmt == "json"
        self.verbose = verbose
        self.stream = stream or sys.stderr
        self.worker_id = worker_id

    def wants(self, name):
        return self.verbose or name in self.ALWAYS

    def event(self, name, message="", **fields):
        if not self.wants(name):
            return
        now = time.time()
        if self.json:
            record = {"ts": round(now, 3), "event": name, "worker": self.worker_id}
            if message:
                record["message"] = message
            record.update((k, v) for k, v in fields.items() if v is not None)
            line = json.dumps(record, ensure_ascii=False, default=str)
        else:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
            extras = " ".join("%s=%s" % (k, _short(v)) for k, v in fields.items()
                              if v is not None)
            line = " ".join(part for part in (stamp, "forkq", name, message, extras) if part)
        try:
            self.stream.write(_writable(line, self.stream) + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass


def _writable(line, stream):
    # A job's text can hold what the stream cannot encode (a lone surrogate from
    # os.fsdecode, or anything on an ASCII stream): show it escaped, never drop the line.
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        return line.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return line.encode("ascii", "backslashreplace").decode("ascii")


def _short(value):
    if isinstance(value, float):
        return "%.3f" % value
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def megabytes(nbytes):
    return round(nbytes / 1048576.0, 1)
