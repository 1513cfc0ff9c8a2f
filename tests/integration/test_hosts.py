"""Many hosts sharing one Redis: each worker runs as a "host" of its own (its own UTS namespace,
so its own hostname, via `unshare --uts`; root only). One host's workers are SIGKILLed
together mid-job; a worker on another host records their jobs by heartbeat age (cross-host
pruning, contract §8.3 step 2); a busy worker on a third host is never taken for dead."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest
from harness import SUPPORT, enqueue_raw, failures, pop, registered_id, wait_until, worker_env

FAST = ("--heartbeat-interval", "1", "--prune-interval", "3", "--interval", "0.1",
        "-r", "workerjobs")


def unshare_refusal():
    """Why this machine cannot give a process its own hostname, or None if it can."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    if os.geteuid() != 0:
        return "`unshare --uts` needs root"
    probe = subprocess.run(["unshare", "--uts", "sh", "-c", "hostname forkq-probe && hostname"],
                           capture_output=True, text=True)
    if probe.returncode != 0 or probe.stdout.strip() != "forkq-probe":
        return "`unshare --uts` failed here: %s" % (probe.stderr.strip() or probe.stdout)
    return None


@pytest.fixture(scope="module")
def hosts_allowed():
    why = unshare_refusal()
    if why:
        if os.environ.get("CI") == "true" and os.geteuid() == 0:
            pytest.fail("CI runs as root: the many-host test must run, but %s" % why)
        pytest.skip("many-host test needs its own UTS namespaces: %s" % why)


class HostWorker:
    """`forkq work` in a UTS namespace of its own, named `host` (the same pid as the worker:
    unshare and sh both exec)."""

    def __init__(self, host, url, args):
        self.host = host
        self.log_path = tempfile.mktemp(prefix="forkq-%s-" % host, suffix=".log")
        self.log_file = open(self.log_path, "w")
        cmd = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', host,
               sys.executable, "-m", "forkq", "work", "--redis-url", url] + list(args)
        self.proc = subprocess.Popen(cmd, env=worker_env(url), cwd=SUPPORT,
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid

    @property
    def log(self):
        self.log_file.flush()
        with open(self.log_path) as fh:
            return fh.read()

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log_file.close()


def test_another_hosts_worker_records_a_dead_hosts_jobs(hosts_allowed, r, url):
    started = []
    try:
        doomed = [HostWorker("host-a", url, ("-q", "a") + FAST) for _ in range(2)]
        busy = HostWorker("host-c", url, ("-q", "c") + FAST)
        started += doomed + [busy]
        ids = {w: registered_id(r, w.pid) for w in started}
        assert {i.split(":")[0] for i in ids.values()} == {"host-a", "host-c"}
        for i in range(2):
            enqueue_raw(r, "a", {"class": "Sleep", "args": [60, "a%d" % i]})
        enqueue_raw(r, "c", {"class": "Sleep", "args": [8, "c"]})
        tags = {pop(r, "test:started", timeout=20)["tag"] for _ in range(3)}
        assert tags == {"a0", "a1", "c"}
        for worker in doomed:  # host A goes down: its workers and their children at once
            worker.kill()
        recorder = HostWorker("host-b", url, ("-q", "b") + FAST)
        started.append(recorder)
        registered_id(r, recorder.pid)
        wait_until(lambda: len(failures(r)) >= 2, 30, "host B to record host A's jobs")
        entries = failures(r)
        assert sorted(e["worker"] for e in entries) == sorted(ids[w] for w in doomed)
        assert {e["exception"] for e in entries} == {"Resque::PruneDeadWorkerDirtyExit"}
        assert sorted(e["payload"]["args"][1] for e in entries) == ["a0", "a1"]
        for worker in doomed:
            assert not r.sismember("resque:workers", ids[worker])
        # host C's worker was busy the whole time and is alive: never pruned, its job done
        assert pop(r, "test:done", timeout=20)["tag"] == "c"
        wait_until(lambda: r.get("resque:stat:processed") == b"1", 10, "host C's record")
        assert busy.alive() and r.sismember("resque:workers", ids[busy])
        assert "registered again" not in busy.log
        assert ids[busy] not in recorder.log
        assert len(failures(r)) == 2
    finally:
        for worker in started:
            worker.stop()
