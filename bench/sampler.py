"""Run one worker over a filled queue and watch it: wall time, Redis commands, CPU, the parent's
RSS as the drain goes on, the peak RSS of its job children, and its round trips.

Why not psutil's children(): it walks all of /proc (1.5 ms a call here), slower than a no-op
child lives. Linux names the last pid it handed out in /proc/loadavg, so each tick reads only
the pids created since the last tick and keeps those whose parent is in the worker's tree.
A child can still be born and gone between two ticks: child figures are a sample.
"""
import os
import resource
import signal
import statistics
import subprocess
import tempfile
import time

import psutil
from redisproc import ReadEvents

TICK = 0.002        # child sampling period: no-op children live one or two milliseconds
PROGRESS = 0.01     # LLEN + parent RSS period (each LLEN is one more Redis command; subtracted)
WARM = 0.05         # steady figures run from this share of the jobs popped to 1 - WARM


def _last_pid():
    with open("/proc/loadavg") as fh:
        return int(fh.read().split()[-1])


def _read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _ppid(pid):
    data = _read("/proc/%d/stat" % pid)
    if not data:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces or ")", so split after the last ")"
    return int(data[data.rindex(b")") + 2:].split()[1])


def _hwm(pid):
    """Peak resident set (VmHWM) in bytes; None once the process is gone or a zombie."""
    data = _read("/proc/%d/status" % pid)
    if data:
        for line in data.splitlines():
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def _exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


class Tree:
    """A worker and its descendants. Job children are forks of the worker: the same program.
    Helpers that outlive jobs (forkq's fork server and guard: the worker's children with their
    titles) and other programs run at start-up (rq runs `file -b python`) are followed but not
    counted as job children."""

    HELPER_TITLES = (b"Fork server", b"Guard for")

    def __init__(self):
        self.last = _last_pid()  # taken before the worker starts, so no child is missed
        self.root = None
        self.members = set()
        self.helpers = set()
        self.exe = None
        self.peak = {}           # job child pid -> highest VmHWM seen
        self.uss = {}            # job child pid -> highest USS seen (only if asked)

    def start(self, root):
        self.root = root
        self.members = {root}
        self.exe = _exe(root)

    def tick(self, uss=False):
        last = _last_pid()
        if last < self.last:       # pid numbers wrapped: slow path, once
            try:
                found = [p.pid for p in psutil.Process(self.root).children(recursive=True)]
            except psutil.Error:
                found = []
            self.members.update(found)
        else:
            for pid in range(self.last + 1, last + 1):   # parents come before their children
                if _ppid(pid) in self.members:
                    self.members.add(pid)
        self.last = last
        for pid in list(self.members):
            if pid == self.root or pid in self.helpers:
                continue
            hwm = _hwm(pid)
            if hwm is None:
                self.members.discard(pid)
                continue
            title = _read("/proc/%d/cmdline" % pid) or b""
            exe = _exe(pid)
            if exe is None:                # exiting: its memory is being torn down
                continue
            # a helper is the worker's own child; a job child that still shows the fork
            # server's title for a moment after the fork is the server's child, not a helper
            helper = _ppid(pid) == self.root and any(t in title for t in self.HELPER_TITLES)
            if helper or exe != self.exe:
                self.helpers.add(pid)
                self.peak.pop(pid, None)   # seen before it had set its title
                self.uss.pop(pid, None)
                continue
            self.peak[pid] = max(self.peak.get(pid, 0), hwm)
            if uss:
                try:
                    value = psutil.Process(pid).memory_full_info().uss
                except psutil.Error:
                    continue
                self.uss[pid] = max(self.uss.get(pid, 0), value)

    def cpu(self):
        """CPU seconds of the whole tree so far: each live process's own time plus what its
        reaped children used (the same accounting as RUSAGE_CHILDREN once all are reaped)."""
        total = 0.0
        try:
            procs = [psutil.Process(self.root)]
            procs += procs[0].children(recursive=True)
        except psutil.Error:
            return None
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total


def _stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


def _tail(fh, limit=300):
    fh.seek(0)
    text = fh.read().decode("utf-8", "replace").strip()
    return text[-limit:].replace("\n", " | ")


def measure(server, cmd, environ, cwd, n, queue_key, timeout, counter=None, expected=None):
    """Start `cmd` (a burst worker) over a queue already holding n jobs; wait for it to exit.

    `counter` counts the worker's round trips (default: the server's read events less the
    bench's own requests); `expected` is how many job children the worker forks by design.
    Returns figures, or {"error": reason} if it timed out, failed, or left jobs behind."""
    counter = counter or ReadEvents(server)
    stats0 = server.stats()
    trips0 = counter.trips()
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    tree = Tree()
    rss = []                  # (jobs popped, parent RSS)
    mark_a = mark_b = None    # (t, jobs popped, trips, tree cpu) at WARM and 1 - WARM popped
    probes = 0
    warm = max(1, int(n * WARM))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        # its own session: on a timeout the whole tree (children, fork server) is killed
        proc = subprocess.Popen(cmd, env=environ, cwd=cwd, stdout=out, stderr=err,
                                start_new_session=True)
        tree.start(proc.pid)
        ps = psutil.Process(proc.pid)
        next_progress = 0.0
        while proc.poll() is None:
            now = time.perf_counter() - began
            if now > timeout:
                _stop(proc)
                return {"error": "timed out after %d s (%d of %d jobs done)"
                        % (timeout, rss[-1][0] if rss else 0, n)}
            tree.tick()
            if now >= next_progress:
                next_progress = now + PROGRESS
                done = n - server.r.llen(queue_key)
                probes += 1
                counter.note()
                try:
                    rss.append((done, ps.memory_info().rss))
                except psutil.Error:
                    pass
                if mark_a is None and done >= warm:
                    mark_a = (now, done, counter.trips(), tree.cpu())
                if mark_b is None and done >= n - warm and mark_a and done > mark_a[1]:
                    mark_b = (now, done, counter.trips())
            time.sleep(TICK)
        took = time.perf_counter() - began
        usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        trips1 = counter.trips()
        stats1 = server.stats()
        by_command = {k: v - stats0.get(k, 0) for k, v in stats1.items()}
        by_command["llen"] = by_command.get("llen", 0) - probes  # the bench's own LLENs
        by_command = {k: v for k, v in by_command.items() if v}
        calls = sum(by_command.values())
        left = server.r.llen(queue_key)
        if proc.returncode != 0:
            reason = _tail(err)
            if proc.returncode == 2 and "no such option" in reason.lower():
                reason = "option rejected by this version: " + reason
            return {"error": "exit status %d: %s" % (proc.returncode, reason)}
        if left:
            return {"error": "exited 0 with %d of %d jobs still queued" % (left, n)}
        out.seek(0)
        reported = _last_json(out.read())
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    result = {"seconds": took, "jobs_per_s": n / took, "cmds_per_job": calls / n,
              "cpu_ms_per_job": 1000 * cpu / n,
              "cmds_per_job_by_command": dict(sorted(
                  ((k, v / n) for k, v in by_command.items()), key=lambda kv: -kv[1])),
              "trips_per_job": None if trips0 is None else (trips1 - trips0) / n,
              "steady_jobs_per_s": None, "steady_cpu_ms_per_job": None,
              "steady_trips_per_job": None, "parent_rss_mb": None, "child_rss_mb": None,
              "children_sampled": len(tree.peak), "children_expected": expected}
    if mark_a and mark_b and mark_b[0] > mark_a[0]:
        result["steady_jobs_per_s"] = (mark_b[1] - mark_a[1]) / (mark_b[0] - mark_a[0])
        if mark_a[2] is not None:
            result["steady_trips_per_job"] = (mark_b[2] - mark_a[2]) / (mark_b[1] - mark_a[1])
    if mark_a and mark_a[3] is not None and n > mark_a[1]:
        result["steady_cpu_ms_per_job"] = 1000 * (cpu - mark_a[3]) / (n - mark_a[1])
    result["parent_rss_mb"] = _rss_span(rss, n)
    if reported and reported.get("child_maxrss_kb"):
        # the floor reaps its own children with wait4 and reports their exact peak RSS
        result["child_rss_mb"] = reported["child_maxrss_kb"] * 1024 / 1e6
        result["children_sampled"] = reported.get("children", 0)
    elif tree.peak:
        result["child_rss_mb"] = statistics.median(tree.peak.values()) / 1e6
    return result


def _rss_span(samples, n):
    """Parent RSS at the first sample once a job was popped and at the last one while jobs
    were still queued (later ones can catch the interpreter tearing itself down), with the
    job counts they were taken at: the growth is over exactly end_job - start_job jobs."""
    live = [(d, r) for d, r in samples if r]
    first = next(((d, r) for d, r in live if d >= 1), None)
    last = next(((d, r) for d, r in reversed(live) if d < n), None)
    if first is None or last is None or last[0] < first[0]:
        return None
    return {"start": first[1] / 1e6, "end": last[1] / 1e6,
            "peak": max(r for _, r in live) / 1e6, "start_job": first[0], "end_job": last[0]}


def _last_json(data):
    import json
    lines = data.decode("utf-8", "replace").strip().splitlines()
    try:
        value = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
