"""Section 2: idle workers. Each waits on a redis-server of its own, started before the drain
and left idle while it runs: what an idle worker costs Redis is counted over that whole time
(several of forkq's 5 s polls, free of the bench's traffic), at no extra wall time. Afterwards
one job at a time is pushed into each and the job stamps when it starts: idle → start latency.

Why not count the idle cost in the gaps between latency samples: a worker restarts its poll
interval after each job, so a 10-30 ms gap never holds a poll and would always read ~0.
"""
import json
import math
import os
import random
import signal
import subprocess
import tempfile
import time

import psutil
from peers import BENCH, env, log
from redisproc import RedisServer

SPACING = (0.010, 0.030)  # between one job's start and the next push: random, no fixed phase


class IdleWorker:
    """A non-burst worker left waiting; stopped with TERM (then KILL) at the end."""

    def __init__(self, server, environ, cmd, registered_key):
        self.server, self.registered_key = server, registered_key
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, env=environ, cwd=BENCH, stdout=subprocess.DEVNULL,
                                     stderr=self.err, start_new_session=True)

    def ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while not self.server.r.scard(self.registered_key):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.err.seek(0)
                tail = self.err.read().decode("utf-8", "replace").strip()[-300:]
                raise RuntimeError("worker did not start (%s)" % tail.replace("\n", " | "))
            time.sleep(0.01)
        return self

    def waker(self):
        """How the worker said it is woken (its start-up log line), or None."""
        self.err.seek(0)
        for line in self.err.read().decode("utf-8", "replace").splitlines():
            if "wake-ups:" in line:
                return line.split("wake-ups:", 1)[1].strip()
        return None

    def cpu(self):
        """CPU seconds of the worker and its live descendants so far."""
        try:
            procs = [psutil.Process(self.proc.pid)]
            procs += procs[0].children(recursive=True)
            return sum(sum(p.cpu_times()[:2]) for p in procs)
        except psutil.Error:
            return None

    def stop(self):
        pid = self.proc.pid
        if self.proc.returncode is None:
            self.proc.terminate()
            deadline = time.monotonic() + 15
            # wait for the exit without reaping it: while the leader is a zombie its process
            # group id cannot go to anyone else, so the KILL below reaches only what we started
            while time.monotonic() < deadline:
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                    break
                time.sleep(0.01)
            try:
                os.killpg(pid, signal.SIGKILL)  # anything of its session left over
            except OSError:
                pass
        self.proc.wait()
        self.err.close()


ENQUEUE = "forkq (forkq.enqueue)"
KEYSPACE = "forkq (raw RPUSH, keyspace events on)"
RAW = "forkq (raw RPUSH, no server config)"
POLL = "forkq (raw RPUSH, --interval 0.1)"
# how each forkq side's worker is meant to be woken (its log line says what it found)
EXPECTED_WAKER = {ENQUEUE: "client tracking", KEYSPACE: "keyspace events",
                  RAW: "client tracking", POLL: "none (poll only)"}


def waker_kind(line):
    """The start-up line's way in a few words."""
    if not line:
        return None
    for start, kind in (("client tracking", "client tracking"),
                        ("keyspace events", "keyspace events"),
                        ("forkq's wake channel", "wake channel only"),
                        ("Redis refused", "none (poll only)")):
        if line.startswith(start):
            return kind
    return line[:40]
RQ = "rq Worker"


# A forkq worker prefers client tracking whenever Redis allows it. To time the other ways, a
# side's worker logs in as an ACL user that Redis refuses them to: without the CLIENT command
# (so keyspace events, as on a Redis before 6), or without any channel (so only the poll).
NO_CLIENT = ("~*", "allchannels", "+@all", "-client")
NO_CHANNELS = ("~*", "resetchannels", "+@all")


def baseline_plan(ctx, forkq):
    """With --baseline REV: an idle worker as forkq was at REV, woken by forkq.enqueue, so a
    refactor's latency is judged against the code before it in the same run."""
    if not getattr(ctx, "baseline", None):
        return []
    from drain import baseline_command
    label, path = ctx.baseline
    return [("forkq @%s (forkq.enqueue)" % label, "", None,
             baseline_command(path, forkq), [], ctx.forkq_missing)]


class Side:
    """One idle worker on its own redis-server."""

    def __init__(self, name, events, acl=None):
        self.name, self.error, self.worker = name, None, None
        self.server = RedisServer()
        self.server.r.config_set("notify-keyspace-events", events)
        self.env = env(self.server.url)  # the Stamp job reports to this server
        self.url = self.server.url
        if acl:
            self.server.r.execute_command("ACL", "SETUSER", "bench", "on", ">bench-pw", *acl)
            self.url = self.url.replace("redis://", "redis://bench:bench-pw@", 1)

    def start(self, cmd, registered_key):
        self.worker = IdleWorker(self.server, self.env, cmd, registered_key)

    def close(self):
        if self.worker:
            self.worker.stop()
        self.server.stop()


class IdleSides:
    def __init__(self, ctx):
        self.ctx, self.sides, self.began = ctx, {}, None
        forkq = [ctx.python, "-m", "forkq", "work", "--queues", "lat", "--require",
                 "jobs_latency", "--redis-url"]
        plan = [(ENQUEUE, "", None, forkq, [], ctx.forkq_missing),
                ] + baseline_plan(ctx, forkq) + [
                (KEYSPACE, "Kl", NO_CLIENT, forkq, [], ctx.forkq_missing),
                (RAW, "", None, forkq, [], ctx.forkq_missing),
                (POLL, "", NO_CHANNELS, forkq, ["--interval", "0.1"], ctx.forkq_missing),
                (RQ, "", None, [ctx.rq, "-m", "rq.cli", "worker", "--quiet", "--url"], ["lat"],
                 ctx.rq_missing)]
        try:
            for name, events, acl, cmd, extra, missing in plan:
                side = Side(name, events, acl)
                self.sides[name] = side
                if missing:
                    side.error = missing
                    continue
                side.start(cmd + [side.url] + extra,
                           "rq:workers" if name == RQ else "resque:workers")
        except BaseException:
            self.close()  # the servers and workers started so far
            raise

    def start_window(self):
        """Wait until every worker is registered and settled; the idle window opens."""
        for side in self.sides.values():
            if side.worker and not side.error:
                try:
                    side.worker.ready()
                except Exception as exc:
                    side.error = "%s: %s" % (type(exc).__name__, exc)
        time.sleep(0.3)  # registration comes just before the first poll: let it settle
        for side in self.sides.values():
            side.count0 = side.server.idle_count()
            side.cpu0 = side.worker.cpu() if side.worker else None
        self.began = time.monotonic()

    def end_window(self):
        """Commands each idle worker issued per second over the window; a blocked command
        counts once, when issued (see RedisServer.idle_count)."""
        seconds = time.monotonic() - self.began
        out = {}
        for name, side in self.sides.items():
            if side.error:
                out[name] = {"error": side.error}
                continue
            calls, blocked = side.server.idle_count()
            cpu = side.worker.cpu()
            issued = calls - side.count0[0] + blocked - side.count0[1]
            out[name] = {"cmds_per_s": issued / seconds, "window_s": seconds,
                         "waker": waker_kind(side.worker.waker()),
                         "blocked_at_end": blocked,
                         "cpu_pct": (None if cpu is None or side.cpu0 is None
                                     else 100 * (cpu - side.cpu0) / seconds)}
        return out

    def close(self):
        for side in self.sides.values():
            side.close()


# --- idle → start latency ---------------------------------------------------------------------

def percentiles(values):
    values = sorted(v * 1000 for v in values)
    if not values:
        return {"error": "no samples"}

    def pick(q):  # nearest rank: the smallest value with at least q of the samples at or below
        return values[min(len(values), max(1, math.ceil(q * len(values)))) - 1]
    return {"p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": values[-1],
            "samples": len(values)}


def stamp_samples(server, push, count, spacing, budget=None):
    """Push one Stamp job at a time into the idle worker and wait for it to start; the job
    RPUSHes time.time() at its start. A first, unkept push warms the worker up. Past `budget`
    seconds no more samples are taken (a worker that waits for its poll would take minutes)."""
    values = []
    stop_at = time.monotonic() + budget if budget else None
    for i in range(count + 1):
        if stop_at and len(values) >= 3 and time.monotonic() > stop_at:
            break
        time.sleep(random.uniform(*spacing))
        began = time.time()
        push()
        got = server.r.blpop(["stamps"], timeout=30)
        if got is None:
            raise RuntimeError("job not started within 30 s (%d samples so far)" % len(values))
        if i:
            values.append(float(got[1]) - began)
    return values


def latency(ctx, sides):
    out = {}
    samples = ctx.latency_samples
    raw_json = '{"class":"Stamp","args":["stamps"]}'

    def raw_push(r):
        # what Ruby's Resque.enqueue (or any non-forkq producer) writes: no wake-up message
        def push():
            r.sadd("resque:queues", "lat")
            r.rpush("resque:queue:lat", raw_json)
        return push

    def forkq_push(r):
        import forkq as forkq_api
        producer = forkq_api.Producer(r, namespace="resque")
        return lambda: producer.enqueue("Stamp", "stamps", queue="lat")

    # the polling worker restarts its 0.1 s interval after each job: a push 10-30 ms later
    # would always wait ~80 ms, so its pushes spread over a whole interval instead
    rows = [(ENQUEUE, forkq_push, SPACING, None),
            ] + [(plan[0], forkq_push, SPACING, None) for plan in baseline_plan(ctx, [])] + [
            (KEYSPACE, raw_push, SPACING, None),
            (RAW, raw_push, SPACING, None),
            (POLL, raw_push, (0.010, 0.110), ctx.skip_poll_row)]
    for name, make_push, spacing, skip in rows:
        side = sides.sides[name]
        if side.error or skip:
            out[name] = {"error": side.error or skip}
            continue
        log("  latency: " + name)
        try:
            out[name] = percentiles(stamp_samples(side.server, make_push(side.server.r),
                                                  samples, spacing, budget=20))
        except Exception as exc:
            out[name] = {"error": "%s: %s" % (type(exc).__name__, exc)}
    side = sides.sides[RQ]
    if side.error:
        out[RQ] = {"error": side.error}
        return out
    log("  latency: " + RQ)
    try:
        done = subprocess.run([ctx.rq, os.path.join(BENCH, "rq_driver.py"), "latency",
                               side.server.url, str(samples), "%g" % SPACING[0],
                               "%g" % SPACING[1]], capture_output=True, text=True,
                              env=side.env, cwd=BENCH, timeout=300)
        if done.returncode:
            raise RuntimeError(done.stderr.strip()[-300:])
        out[RQ] = percentiles(json.loads(done.stdout))
    except Exception as exc:
        out[RQ] = {"error": "%s: %s" % (type(exc).__name__, exc)}
    return out
