"""`forkq pool`: N workers per queue set, replaced when they die, drained on QUIT."""
import os
import signal
import subprocess
import sys

from conftest import TESTS, enqueue_raw, pop, wait_until, worker_env


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
        env=worker_env(url), cwd=TESTS, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
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
