"""`forkq pool`: N workers per queue set, replaced when they die, drained on QUIT."""
import json
import os
import signal
import subprocess
import sys

from harness import SUPPORT, alive, enqueue_raw, failures, pop, wait_until, worker_env


def worker_pids(r):
    """pid -> queues of the registered workers that are alive (a SIGKILLed one stays
    registered until the next prune, which the lock may put off for a minute)."""
    out = {}
    for w in r.smembers("resque:workers"):
        _host, pid, queues = w.decode().split(":")
        try:
            os.kill(int(pid), 0)
            out[int(pid)] = queues
        except ProcessLookupError:
            pass
    return out


def test_pool_runs_replaces_and_drains(r, url, tmp_path):
    conf = tmp_path / "pool.conf"
    conf.write_text("# queues = count\ndefault = 2\n")
    pool = subprocess.Popen(
        [sys.executable, "-m", "forkq", "pool", "-c", str(conf), "-w", "low=1", "--",
         "--require", "workerjobs", "--redis-url", url, "--interval", "0.1"],
        env=worker_env(url), cwd=SUPPORT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    try:
        wait_until(lambda: sorted(worker_pids(r).values()) == ["default", "default", "low"],
                   timeout=20, message="3 workers")
        first = worker_pids(r)
        victim = next(pid for pid, q in first.items() if q == "default")
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len([p for p, q in worker_pids(r).items()
                                if q == "default" and p != victim]) == 2,
                   timeout=30, message="the killed worker replaced")
        conf.write_text("default = 1\n")
        pool.send_signal(signal.SIGHUP)  # reload: one default worker fewer
        wait_until(lambda: sorted(worker_pids(r).values()) == ["default", "low"], timeout=20,
                   message="HUP to shrink the pool")
        enqueue_raw(r, "default", {"class": "Sleep", "args": [1, "drain"]})
        pop(r, "test:started")
        pool.send_signal(signal.SIGQUIT)
        assert pool.wait(30) == 0
        assert pop(r, "test:done")["tag"] == "drain"  # QUIT let the job finish
        assert worker_pids(r) == {}
    finally:
        if pool.poll() is None:
            pool.kill()
            pool.wait()
    log = pool.stderr.read()
    assert "killed by SIGKILL" in log and "reloaded" in log


def test_pool_needs_worker_sets(url):
    done = subprocess.run([sys.executable, "-m", "forkq", "pool"], env=worker_env(url),
                          capture_output=True, text=True)
    assert done.returncode == 2 and "say which workers to run" in done.stderr


def _json_events(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_hup_replaces_every_worker_and_term_passes_through(r, url):
    pool = subprocess.Popen(
        [sys.executable, "-m", "forkq", "pool", "-n", "2", "-q", "default", "--log-format",
         "json", "--", "--require", "workerjobs", "--redis-url", url, "--interval", "0.1"],
        env=worker_env(url), cwd=SUPPORT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    try:
        old = set(wait_until(lambda: len(worker_pids(r)) == 2 and worker_pids(r), timeout=20,
                             message="2 workers"))
        pool.send_signal(signal.SIGHUP)  # no -c: the workers are still replaced
        registered = lambda: {int(w.decode().split(":")[1]) for w in r.smembers("resque:workers")}
        new = set(wait_until(lambda: len(registered()) == 2 and not registered() & old
                             and registered(), timeout=30, message="old workers replaced"))
        wait_until(lambda: not any(alive(pid) for pid in old), message="old workers to exit")
        assert all(alive(pid) for pid in new)
        enqueue_raw(r, "default", {"class": "Sleep", "args": [60, "cut"]})
        pop(r, "test:started", timeout=20)
        pool.send_signal(signal.SIGTERM)
        assert pool.wait(30) == 0  # TERM, not QUIT: the 60 s job did not hold the pool up
    finally:
        if pool.poll() is None:
            pool.kill()
            pool.wait()
    assert r.smembers("resque:workers") == set()
    [failure] = failures(r)
    assert failure["payload"]["args"] == [60, "cut"]  # stopped by TERM and recorded
    events = _json_events(pool.stderr.read())
    names = [e["event"] for e in events]
    assert names[0] == "startup" and names[-1] == "exit" and "replacing" in names
    exited = {e["pid"]: e for e in events if e["event"] == "exited"}
    assert set(exited) == old | new
    assert all(exited[pid]["retired"] for pid in old)
    assert all(e["status"] == "exited with status 0" for e in exited.values()), exited
    assert [e["reason"] for e in events if e["event"] == "exit"] == ["SIGTERM"]
