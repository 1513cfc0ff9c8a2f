"""The printed report: the drain table, the other sections, and the verdict on each of the
issue's targets (with the basis each one is judged on)."""
from drain import (APP_CEILING, APP_FLOOR, APP_FORKQ, CEILING, FLOOR, FORKQ, NO_FORK,
                   PER_CHILD, RQ_FORK, RQ_SIMPLE)
from latency import ENQUEUE, KEYSPACE, POLL, RAW, RQ
from scaling import scaling_lines

# the idle workers are named after their latency rows; as idle workers, by their setup
IDLE_NAMES = {ENQUEUE: "forkq, default 5 s poll", KEYSPACE: "forkq, 5 s poll, keyspace events on",
              RAW: "forkq, 5 s poll, no server config", POLL: "forkq --interval 0.1, poll only",
              RQ: "rq Worker"}


def _f(value, fmt):
    return "-" if value is None else fmt % value


def _ratio(a, b):
    return a / b if a is not None and b else None


def _ok(m):
    return m if m and "error" not in m else {}


def report(result):
    lines = ["forkq benchmark (%s mode) — %s, %d cores, Python %s, redis %s, forkq %s, rq %s"
             % (result["mode"], result["date"], result["cores"], result["python"],
                result["redis"], result["forkq"] or "n/a", result["rq"] or "n/a"),
             "load average at the start: %s; %s" % (result["loadavg"], result["setup"])]
    drain = result["drain"]
    jobs = "one worker drains %d queued no-op jobs" % result["jobs"]
    n_rq = _ok(drain.get(RQ_FORK)).get("jobs")
    if n_rq and n_rq != result["jobs"]:
        jobs += " (rq Worker: %d, its rates compare; its wall-clock carries more start-up)" % n_rq
    lines += [jobs + "; medians of %d interleaved rounds" % result["rounds"], ""]
    if "error" in drain:
        lines.append("drain: n/a (%s)" % drain["error"])
        drain = {}
    lines += drain_table(drain)
    lines += ceiling_lines(drain, FORKQ, CEILING, FLOOR, [(PER_CHILD, NO_FORK)])
    lines += ["", "Redis commands per job, by command (a script's inner commands count too)"]
    for name, m in drain.items():
        if "error" not in m:
            parts = ["%s %.2f" % (k.lower(), v)
                     for k, v in m["cmds_per_job_by_command"].items() if v >= 0.05]
            more = ", … %d more kinds (JSON)" % (len(parts) - 10) if len(parts) > 10 else ""
            lines.append("  %-28s %s%s" % (name, ", ".join(parts[:10]), more))
    lines += idle_lines(result["idle"], result["latency"])
    lines += queue_lines(result["queues"])
    app = result.get("drain_app") or {}
    if app:
        lines += ["", "the same drain with the ~100 MB app preloaded (bigapp.py) before each "
                      "forks: %s jobs" % (_ok(app.get(APP_FORKQ)).get("jobs") or "-")]
        if "error" in app:
            lines.append("  n/a (%s)" % app["error"])
        else:
            lines += drain_table(app, floor_name=APP_FLOOR)
            lines += ceiling_lines(app, APP_FORKQ, APP_CEILING, APP_FLOOR, [])
    lines += memory_lines(result["memory"])
    if "scaling" in result:
        lines += scaling_lines(result["scaling"])
    lines += ["", "targets (issue 6): verdict, target, measured value [the basis it is judged on]"]
    for v in result["verdicts"]:
        lines.append("  %-5s  %-56s %s  [%s]" % (v["verdict"], v["target"], v["value"],
                                                v["basis"]))
    lines += ["", "targets (issue 14): verdict, target, measured value [basis]"]
    for v in result.get("verdicts14", []):
        lines.append("  %-5s  %-62s %s  [%s]" % (v["verdict"], v["target"], v["value"],
                                                v["basis"]))
    if result.get("notes"):
        lines += [""] + ["note: " + n for n in result["notes"]]
    return "\n".join(lines)


def ceiling_lines(drain, forkq, ceiling, floor, pairs):
    """forkq's fork path against the lean fork-server ceiling and the floor, wall-clock and
    steady state; then each (row, its ceiling) pair."""
    lines = []
    for a, b in [(forkq, ceiling), (forkq, floor), (ceiling, floor)] + pairs:
        x, y = _ok(drain.get(a)), _ok(drain.get(b))
        if x and y:
            lines.append("  %s / %s: %s× wall-clock, %s× steady state" % (
                a, b, _f(_ratio(x["jobs_per_s"], y["jobs_per_s"]), "%.2f"),
                _f(_ratio(x["steady_jobs_per_s"], y["steady_jobs_per_s"]), "%.2f")))
    return lines


def drain_table(drain, floor_name=FLOOR):
    rq_fork = _ok(drain.get(RQ_FORK))
    floor = _ok(drain.get(floor_name))
    head = "%-28s %7s %6s %6s  %8s %6s %6s  %8s %9s %8s %9s  %-19s %s"
    lines = ["%-28s %-21s  %-22s" % ("", " wall-clock ".center(21, "-"),
                                     " steady state ".center(22, "-")),
             head % ("worker", "jobs/s", "×rq", "×floor", "jobs/s", "×rq", "×floor",
                     "cmds/job", "trips/job", "cpu ms/j", "steady ms",
                     "child MB (caught)", "parent MB 1st job→end")]
    for name, m in drain.items():
        if "error" in m:
            lines.append("%-28s n/a (%s)" % (name, m["error"][:150]))
            continue
        rss = m["parent_rss_mb"]
        child = "-"
        if m["child_rss_mb"] is not None:
            child = "%.1f (%d/%s)" % (m["child_rss_mb"], m["children_sampled"],
                                      _f(m["children_expected"], "%d"))
        lines.append(head % (
            name, "%.0f" % m["jobs_per_s"],
            _f(_ratio(m["jobs_per_s"], rq_fork.get("jobs_per_s")), "%.2f"),
            _f(_ratio(m["jobs_per_s"], floor.get("jobs_per_s")), "%.2f"),
            _f(m["steady_jobs_per_s"], "%.0f"),
            _f(_ratio(m["steady_jobs_per_s"], rq_fork.get("steady_jobs_per_s")), "%.2f"),
            _f(_ratio(m["steady_jobs_per_s"], floor.get("steady_jobs_per_s")), "%.2f"),
            "%.2f" % m["cmds_per_job"], _f(m["trips_per_job"], "%.2f"),
            "%.2f" % m["cpu_ms_per_job"], _f(m["steady_cpu_ms_per_job"], "%.2f"), child,
            "%.1f→%.1f" % (rss["start"], rss["end"]) if rss else "-"))
    return lines


def idle_lines(idle, lat):
    lines = ["", "idle → start latency (one job pushed into a waiting worker, 10-30 ms after the "
                 "last one started; until the job itself starts)"]
    for name, m in _section(lat):
        if "error" in m:
            lines.append("  %-40s n/a (%s)" % (name, m["error"][:150]))
        else:
            lines.append("  %-40s p50 %8.1f ms  p99 %8.1f ms  (%d samples)"
                         % (name, m["p50_ms"], m["p99_ms"], m["samples"]))
    lines.append("  %-40s uniform over 0-5 s by construction, for a worker that only polls "
                 "(not measured: the 0.1 s row times the same path)"
                 % "forkq (raw RPUSH, default 5 s poll)")
    lines += ["", "idle cost: commands each idle worker issued per second, on a redis-server of "
                  "its own while the drain ran (a blocked command counts when issued)"]
    for name, m in _section(idle):
        if "error" in m:
            lines.append("  %-40s n/a (%s)" % (IDLE_NAMES.get(name, name), m["error"][:150]))
            continue
        blocked = ", blocked in BLPOP at the end" if m["blocked_at_end"] else ""
        waker = ", wake-ups: %s" % m["waker"] if m.get("waker") else ""
        lines.append("  %-40s %6.2f cmds/s over %.0f s%s (CPU %s %%%s)"
                     % (IDLE_NAMES.get(name, name), m["cmds_per_s"], m["window_s"], blocked,
                        _f(m["cpu_pct"], "%.2f"), waker))
    return lines


def queue_lines(queues):
    lines = ["", "reserve cost, forkq fork per job, jobs in the last queue named; round trips "
                 "counted by a relay (its hop slows both rows alike); medians"]
    for name, m in _section(queues):
        if "error" in m:
            lines.append("  %-14s n/a (%s)" % (name, m["error"][:150]))
        else:
            lines.append("  %-14s %5.2f trips/job (steady %s)  %6.1f cmds/job  %6.0f jobs/s  "
                         "%6.2f cpu ms/job  (%d rounds)"
                         % (name, m["trips_per_job"], _f(m["steady_trips_per_job"], "%.2f"),
                            m["cmds_per_job"], m["jobs_per_s"], m["cpu_ms_per_job"],
                            m["rounds"]))
    return lines


def memory_lines(memory):
    lines = ["", "memory (forkq)"]
    for name, m in _section(memory):
        if "error" in m:
            lines.append("  %-30s n/a (%s)" % (name, m["error"][:150]))
        elif name == "long_run":
            lines.append("  parent RSS over a %d-job drain: %.2f MB after job %d → %.2f MB after "
                         "job %d (%+.2f MB over %d jobs)"
                         % (m["jobs"], m["parent_rss_start_mb"], m["start_job"],
                            m["parent_rss_end_mb"], m["end_job"], m["parent_rss_growth_mb"],
                            m["end_job"] - m["start_job"]))
        else:
            lines.append("  100 MB preloaded app, %-22s parent RSS %.0f MB, child USS %.2f MB "
                         "(RSS %.0f MB), %d of %d children caught" % (
                             name[4:] + ":", m["parent_rss_mb"], m["child_uss_mb"],
                             m["child_rss_mb"], m["children_sampled"],
                             m["children_expected"]))
    return lines


def _section(section):
    if "error" in section:
        return [("(all)", section)]
    return list(section.items())


# --- verdicts --------------------------------------------------------------------------------

def verdicts(result):
    """One entry per target of the issue: the value, the basis, holds / fails / n/a."""
    def part(section, *names):
        for name in names:
            section = section.get(name, {}) if "error" not in section else {}
        return _ok(section)
    drain, lat, mem = result["drain"], result["latency"], result["memory"]
    out = []

    def add(target, basis, m, value, holds, why):
        """`m`: the figures the verdict rests on; empty if they are missing (then n/a)."""
        out.append({"target": target, "basis": basis,
                    "value": value(m) if m else "n/a (%s)" % why,
                    "verdict": "n/a" if not m else "holds" if holds(m) else "fails"})

    def speed(name, peer, factor, target):
        a, b = part(drain, name), part(drain, peer)
        wall = _ratio(a.get("jobs_per_s"), b.get("jobs_per_s"))
        steady = _ratio(a.get("steady_jobs_per_s"), b.get("steady_jobs_per_s"))
        add(target, "wall-clock jobs/s, as the issue's table", {"x": wall} if wall else {},
            lambda m: "%.2f× (steady state %s×)" % (wall, _f(steady, "%.2f")),
            lambda m: wall >= factor,
            " and ".join(x for x, f in ((name, a), (peer, b)) if not f) + " did not run")
    speed(FORKQ, RQ_FORK, 4, "fork per job ≥ 4× rq Worker")
    add("fork per job ≥ 1.2× Ruby Resque's forking worker", "-", {}, None, None,
        "Resque not installable here")
    speed(FORKQ, FLOOR, 0.9, "fork per job ≥ 0.9× the redis-py floor")
    speed(FORKQ, FLOOR, 1.0, "stretch: fork per job past the floor (> 1×)")
    speed(PER_CHILD, RQ_SIMPLE, 5, "--jobs-per-child 100 ≥ 5× rq SimpleWorker")
    for name, what in ((ENQUEUE, "jobs forkq enqueues"),
                       (KEYSPACE, "raw pushes, keyspace events on")):
        add("idle → start p50 ≤ 5 ms, " + what, "p50 of the samples", part(lat, name),
            lambda m: "%.1f ms (%d samples)" % (m["p50_ms"], m["samples"]),
            lambda m: m["p50_ms"] <= 5, "not measured")
    add("idle worker ≤ 20 Redis cmds/s (default 5 s poll)", "commands issued while idle",
        part(result["idle"], ENQUEUE),
        lambda m: "%.2f cmds/s over %.0f s" % (m["cmds_per_s"], m["window_s"]),
        lambda m: m["cmds_per_s"] <= 20, "not measured")
    add("≤ 8 Redis commands per job, fork per job", "whole drain, script-run ones included",
        part(drain, FORKQ),
        lambda m: "%.2f cmds/job, %s round trips" % (m["cmds_per_job"],
                                                     _f(m["trips_per_job"], "%.2f")),
        lambda m: m["cmds_per_job"] <= 8, "forkq did not run")
    long_run = part(mem, "long_run")
    span = long_run and long_run["end_job"] - long_run["start_job"]
    add("parent RSS grows ≤ 2 MB over 20,000 jobs", "first job → end" + (
        ", a shorter run: indicative" if long_run and span < 19990 else ""), long_run,
        lambda m: "%+.2f MB over %d jobs" % (m["parent_rss_growth_mb"], span),
        lambda m: m["parent_rss_growth_mb"] <= 2, "no long run in this mode")
    for label in ("fork server (default)", "--no-fork-server"):
        add("child USS ≤ 10 MB, 100 MB app, " + label.replace(" (default)", ""),
            "median of the children caught", part(mem, "app " + label),
            lambda m: "%.2f MB" % m["child_uss_mb"], lambda m: m["child_uss_mb"] <= 10,
            "not measured")
    one, many = part(result["queues"], "1 queue"), part(result["queues"], "1,000 queues")
    both = one.get("steady_trips_per_job") is not None and \
        many.get("steady_trips_per_job") is not None
    add("1,000 queues: one round trip, not 1,000", "steady round trips/job, relay-counted",
        many if both else {},
        lambda m: "%.2f trips/job vs %.2f with 1 queue" % (m["steady_trips_per_job"],
                                                           one["steady_trips_per_job"]),
        lambda m: m["steady_trips_per_job"] - one["steady_trips_per_job"] <= 0.1,
        "not measured")
    return out
