"""Issue 14's targets: each one's measured value, the basis it is judged on, holds/fails/n/a.
(Issue 6's first targets are in report.verdicts; both lists are printed.)"""
from drain import (APP_CEILING, APP_FLOOR, APP_FORKQ, CEILING, FLOOR, FORKQ, NO_FORK,
                   PER_CHILD)
from latency import RAW, RQ


def _ok(m):
    return m if m and "error" not in m else {}


def _part(section, *names):
    for name in names:
        section = (section or {}).get(name, {}) if "error" not in (section or {}) else {}
    return _ok(section)


def _ratio(a, b):
    return a / b if a is not None and b else None


class Targets:
    def __init__(self):
        self.out = []

    def add(self, target, basis, m, value, holds, why):
        """`m`: the figures the verdict rests on; empty if they are missing (then n/a)."""
        self.out.append({"target": target, "basis": basis,
                         "value": value(m) if m else "n/a (%s)" % why,
                         "verdict": "n/a" if not m else "holds" if holds(m) else "fails"})

    def speed(self, section, name, peer, factor, target):
        a, b = _part(section, name), _part(section, peer)
        wall = _ratio(a.get("jobs_per_s"), b.get("jobs_per_s"))
        steady = _ratio(a.get("steady_jobs_per_s"), b.get("steady_jobs_per_s"))
        self.add(target, "wall-clock jobs/s, same run", {"x": wall} if wall else {},
                 lambda m: "%.2f× (steady state %s×)" % (
                     wall, "-" if steady is None else "%.2f" % steady),
                 lambda m: wall >= factor,
                 " and ".join(x for x, f in ((name, a), (peer, b)) if not f) + " did not run")


def verdicts14(result):
    t = Targets()
    drain, app = result.get("drain", {}), result.get("drain_app", {})
    t.speed(drain, FORKQ, CEILING, 0.8, "fork per job ≥ 0.8× the lean fork-server ceiling")
    t.speed(drain, FORKQ, FLOOR, 1.5, "fork per job ≥ 1.5× the redis-py floor")
    t.speed(app, APP_FORKQ, APP_CEILING, 0.8, "100 MB app: fork per job ≥ 0.8× the ceiling")
    t.speed(app, APP_FORKQ, APP_FLOOR, 1.5, "100 MB app: fork per job ≥ 1.5× the floor")
    t.speed(drain, PER_CHILD, NO_FORK, 0.8,
            "--jobs-per-child 100 ≥ 0.8× the Redis-only ceiling")
    lat, idle = result.get("latency", {}), result.get("idle", {})
    raw = _part(lat, RAW)
    rq = _part(lat, RQ)
    t.add("raw RPUSH wakes an idle worker, p50 ≤ 5 ms, no server config", "p50 of the samples",
          raw, lambda m: "%.1f ms, p99 %.1f ms (%d samples; rq Worker p50 %s ms)" % (
              m["p50_ms"], m["p99_ms"], m["samples"],
              "%.1f" % rq["p50_ms"] if rq else "n/a"),
          lambda m: m["p50_ms"] <= 5, "not measured")
    t.add("idle worker ≤ 1 Redis cmd/s, raw-push wake-up on", "commands issued while idle",
          _part(idle, RAW), lambda m: "%.2f cmds/s over %.0f s (waker: %s)" % (
              m["cmds_per_s"], m["window_s"], m.get("waker") or "?"),
          lambda m: m["cmds_per_s"] <= 1, "not measured")
    return t.out
