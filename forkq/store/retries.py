"""The Redis I/O of automatic retries and unique jobs, apart from the record itself (which
rides on the cycle and release scripts, lua/effects.lua): a job's start, a unique enqueue,
the attempt a pruned job had reached, and what `forkq info` shows of pending retries."""
import json
import re

from forkq.store import scripts
from forkq.wire import retry_keys
from forkq.wire.scheduler import master_lock_key


class RetryStore:
    def __init__(self, redis, keys):
        self.redis = redis
        self.keys = keys
        self._start = redis.register_script(scripts.load("job_start"))

    def start(self, counter, free_lock, hold_lock, ttl, token=""):
        """Count the attempt and take or free the job's lock (lua/job_start.lua); `token`
        (the claim's sha1) makes a second call for the same claim a no-op. Returns (attempt
        or None, go on?)."""
        attempt, go = self._start(args=scripts.argv(
            "job_start", ns=self.keys.prefix, counter=counter or "", free=free_lock or "",
            hold=hold_lock or "", ttl=int(ttl or 1), token=token or ""))
        return (int(attempt) if int(attempt) >= 0 else None), bool(go)

    def attempt(self, counter):
        """The attempt a job's counter holds (resque-retry reads it the same way for a job
        that died without reporting: the worker that counted it is gone)."""
        try:
            return int(self.redis.get(self.keys.key(counter)) or 0)
        except ValueError:
            return 0

    def scheduler_running(self, lock_prefix=""):
        """Does any scheduler hold resque-scheduler's master lock (ours or Ruby's)? Its key is
        namespaced twice (contract §12)."""
        return bool(self.redis.exists(master_lock_key(self.keys.prefix[:-1], lock_prefix)))


_UNIQUE_PUSH = scripts.load("unique_push")


def push_unique(redis, keys, lock, ttl, queue, payload):
    """Take a unique job's lock and push it, or refuse (lua/unique_push.lua). Returns
    (pushed?, seconds the lock still has when refused)."""
    pushed, ttl_left = redis.register_script(_UNIQUE_PUSH)(
        args=scripts.argv("unique_push", ns=keys.prefix, lock=lock, ttl=int(ttl), queue=queue,
                          payload=payload))
    return bool(pushed), int(ttl_left)


def pending_retries(redis, keys, limit=20):
    """Jobs between a failed attempt and their next one: resque-retry counters that no running
    job holds (a counter exists during a job's first attempt too). Returns (count, [{class,
    attempts, last_error}] for the first `limit`), the last error from resque-retry's
    suppression record while it lasts."""
    running = set()
    ids = list(redis.smembers(keys.workers))
    for claim in (redis.mget([keys.prefix.encode() + b"worker:" + w for w in ids])
                  if ids else ()):
        try:
            payload = json.loads(claim)["payload"]
            running.add(retry_keys.retry_key(payload["class"], payload["args"]))
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError):
            continue
    prefix = keys.key("resque-retry:")
    pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
    found = sorted(key for key in (raw.decode("utf-8", "replace")[len(keys.prefix):]
                                   for raw in redis.scan_iter(match=pattern, count=1000))
                   if key not in running)
    shown = []
    for key in found[:limit]:
        pipe = redis.pipeline(transaction=False)
        pipe.get(keys.key(key))
        pipe.get(keys.key(retry_keys.failure_key(key)))
        count, failure = pipe.execute()
        entry = {"class": class_of(key), "attempts": _int(count) + 1, "last_error": None}
        if failure:
            try:
                data = json.loads(failure)
                entry["last_error"] = "%s: %s" % (data.get("exception"), data.get("error"))
            except (ValueError, AttributeError):
                pass
        shown.append(entry)
    return len(found), shown


_DIGEST = re.compile(r":[0-9a-f]{40}$")


def class_of(counter):
    """The class of a resque-retry counter key: resque-retry:<Class>[:<sha1>] ("::" allowed)."""
    return _DIGEST.sub("", counter[len("resque-retry:"):])


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
