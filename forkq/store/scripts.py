"""The Lua scripts behind the store, read from lua/: each multi-step write is one round trip and
atomic.

  cycle      the last job's record (done_working + counters, or the failed entry, or a
             requeue; only if its claim is still there) and the next reserve: pause check,
             LPOP in queue order and the worker:<id> claim, in one step, so a job is never
             popped without a record of who holds it, and each job costs one round trip;
  heartbeat  Redis TIME → the ISO value Ruby parses, and re-registration if our keys vanished;
  release    unregister a worker (ours or a dead one), failing or requeueing its claimed job,
             only if the claim is the one the caller read;
  supersede  a worker pruned while alive puts its job's true record in place of the prune's;
  unclaim    put a claimed job that never started back at the head of its queue;
  retry_failed  resque-web's Retry of one failed entry, only if it is still the one shown;
  remove_failed its Remove, with the same check;
  clear_failed  Clear of the entries a page showed, only if the newest of them is unchanged;
  filter_failed the entries of one chunk of `failed` that hold given bytes (a filtered page);
  effects    (included by cycle and release) what a record does for retries and unique jobs;
  job_start, unique_push  a retrying or unique job's start, a unique job's enqueue;
  delayed_count the delayed jobs at a batch of timestamps, summed in Redis;
  scan_names    one SCAN step's key names as one string (the dashboard's keys page).

lib.lua holds the helpers (JSON quoting as Ruby writes it, strict-JSON and UTF-8 checks, byte
order sorting) that a script asks for by starting with `--! lib`.
"""
import os

_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua")

# Each script's ARGV, named once. The Python caller builds ARGV from these names (argv) and the
# script reads ARGV[ARG.<name>] from a generated prologue (`local ARG = {ns = 1, ...}`), so
# neither side counts positions. A last name ending in "*" is the rest of ARGV.
ARGS = {
    "cycle": ("ns", "wid", "run_at",
              "fence", "next_fence",          # the fence the worker last saw, and its next
              "record_sha", "failure", "count_failed", "requeue_queue", "requeue_payload",
              "effects",                      # lua/effects.lua's JSON: retries, unique locks
              "reserve", "worker_name", "seq",
              "plan*"),                       # the queue plan (QueuePlan.argv)
    "unclaim": ("ns", "wid", "claim_sha", "queue", "payload"),
    "heartbeat": ("ns", "wid", "started", "stamp"),  # started '' = beat only
    "release": ("ns", "wid", "expected", "failure", "requeue_queue", "requeue_payload",
                "effects", "memo_ttl"),
    "supersede": ("ns", "wid", "claim_sha", "failure", "count_failed", "requeue_queue",
                  "requeue_payload", "effects"),
    "job_start": ("ns", "counter", "free", "hold", "ttl", "token"),
    "unique_push": ("ns", "lock", "ttl", "queue", "payload"),
    "retry_failed": ("index", "expected", "retried", "queue", "payload"),
    "filter_failed": ("first", "last", "needles*"),
    "scan_names": ("cursor", "pattern", "count"),
    "delayed_count": ("ns", "max", "start", "count"),
    "delayed_push": ("ns", "mode", "when", "item", "queue", "payload", "channel"),
    "delayed_remove_at": ("ns", "ts", "item"),
    "scheduler_tick": ("ns", "lock", "me", "ttl", "batch", "field", "as_master", "as_standby"),
    "delayed_move": ("ns", "lock", "me", "ts", "batch", "channel", "n",
                     "moves*"),                       # n triples: item, queue, payload
    "schedule_fire": ("ns", "lock", "me", "name", "config", "has_last", "last", "new_last",
                      "slot", "queue", "payload", "count", "channel"),
    "scheduler_release": ("ns", "lock", "me", "field"),
}


def argv(script, rest=(), **values):
    """ARGV for `script`: every named value in its place ('' for one not given), then `rest`."""
    names = ARGS[script]
    fixed = names[:-1] if names[-1].endswith("*") else names
    unknown = set(values) - set(fixed)
    if unknown:
        raise TypeError("%s takes no argument %s" % (script, ", ".join(sorted(unknown))))
    return [values.get(name, "") for name in fixed] + list(rest)


def prologue(script):
    names = ARGS.get(script)
    if names is None:
        return ""
    return "local ARG = {%s}\n" % ", ".join(
        "%s = %d" % (name.rstrip("*"), i + 1) for i, name in enumerate(names))


def load(name):
    """The source of lua/<name>.lua: the files its first line names in front of it (`--! lib`,
    `--! lib effects`), then the prologue that names its ARGV (ARGS)."""
    with open(os.path.join(_DIR, name + ".lua"), encoding="utf-8") as fh:
        text = fh.read()
    if text.startswith("--! "):
        first = text.split("\n", 1)[0]
        return "".join(load(part) for part in first[4:].split()) + prologue(name) + text
    return prologue(name) + text


CYCLE = load("cycle")
HEARTBEAT = load("heartbeat")
RELEASE = load("release")
SUPERSEDE = load("supersede")
UNCLAIM = load("unclaim")
RETRY_FAILED = load("retry_failed")
REMOVE_FAILED = load("remove_failed")
CLEAR_FAILED = load("clear_failed")
FILTER_FAILED = load("filter_failed")
