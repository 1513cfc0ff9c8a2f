"""The event log: one line per event on stderr, text or JSON."""
import json
import os
import sys
import time


class EventLog:
    """One line per event on stderr. Failures and worker events always; job starts and
    successes with --verbose. JSON lines carry the same fields as the text form."""

    ALWAYS = {"startup", "shutdown", "failed", "redis_down", "redis_up", "pruned", "error",
              "signal", "requeued", "warning", "exit", "paused", "resumed",
              "master", "standby", "schedules"}  # the scheduler's role and schedules

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
            # forkq[pid]: the workers of a pool share one stderr; the pid says whose line it is
            line = " ".join(part for part in (stamp, "forkq[%d]" % os.getpid(), name, message,
                                              extras) if part)
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
