"""Test harness: a real redis-server started by the suite on a free loopback port, and helpers
to run the real `forkq work` process against it.

Tests meet the worker through Redis: jobs in tests/support/workerjobs.py push markers to lists, and a
test BLPOPs them (with a deadline) instead of sleeping.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

SUPPORT = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(SUPPORT)
ROOT = os.path.dirname(TESTS)
HOST = socket.gethostname()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of the suite's own; restartable (AOF keeps data across restarts)."""

    def __init__(self, appendonly=False, extra=(), tls_ca=None):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.exit("redis-server is not on PATH; tests/run.sh installs it", returncode=3)
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="forkq-redis-")
        self.port = free_port()
        self.appendonly = appendonly
        self.extra = list(extra)  # "{port}" in it is replaced by the chosen port
        self.tls_ca = tls_ca      # the server speaks only TLS, signed by this CA file
        self.proc = None
        self.start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self):
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes" if self.appendonly else "no", "--dir", self.dir,
                "--logfile", os.path.join(self.dir, "redis.log")]
        args += [a.replace("{port}", str(self.port)) for a in self.extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client()
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start on port %d" % self.port)
                time.sleep(0.02)
        client.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def client(self, **kw):
        # No socket timeout (redis-py 8 defaults to 5 s, shorter than the suite's BLPOPs) and
        # no automatic retries, so a test sees exactly what the server did.
        kw.setdefault("socket_timeout", None)
        kw.setdefault("retry", Retry(NoBackoff(), 0))
        if self.tls_ca:
            kw.update(ssl=True, ssl_ca_certs=self.tls_ca)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def worker_env(url, extra=None):
    env = dict(os.environ)
    for key in [k for k in env if k.startswith(("FORKQ_", "QUEUE", "INTERVAL", "RESQUE_"))]:
        env.pop(key)
    env.update({"FORKQ_TEST_REDIS_URL": url, "PYTHONPATH": SUPPORT + os.pathsep + ROOT,
                "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


class WorkerProcess:
    """The real `forkq work` in a subprocess (python -m forkq), its log in a file."""
    COMMAND = "work"

    def __init__(self, url, args=(), env=None, cwd=SUPPORT):
        self.log_path = tempfile.mktemp(prefix="forkq-%s-" % self.COMMAND, suffix=".log")
        self.log_file = open(self.log_path, "w")
        cmd = [sys.executable, "-m", "forkq", self.COMMAND, "--redis-url", url] + list(args)
        self.proc = subprocess.Popen(cmd, env=worker_env(url, env), cwd=cwd,
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait(self, timeout=30):
        return self.proc.wait(timeout)

    def alive(self):
        return self.proc.poll() is None

    @property
    def log(self):
        if not self.log_file.closed:
            self.log_file.flush()
        with open(self.log_path) as fh:
            return fh.read()

    def stop(self):
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.wait(5)
        self.log_file.close()


def burst(spawn_worker, *args, timeout=30):
    """A --burst worker, run until it exits (with 0: its log says why not)."""
    worker = spawn_worker("--burst", *args)
    assert worker.wait(timeout) == 0, worker.log
    return worker


def wait_until(predicate, timeout=10.0, message="condition"):
    """Poll a Redis-side condition with a deadline (for state, not for job progress: jobs
    report through lists, see pop())."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, message))
        time.sleep(0.02)


def pop(client, key, timeout=10.0):
    """BLPOP one marker a job pushed; fails the test if none comes in time."""
    item = client.blpop([key], timeout=timeout)
    assert item is not None, "no %s within %.1f s" % (key, timeout)
    return json.loads(item[1])


def registered_id(client, pid, timeout=10.0):
    """The worker id the process `pid` registered (waits for registration)."""
    def find():
        for wid in client.smembers("resque:workers"):
            wid = wid.decode()
            if wid.split(":")[1] == str(pid):
                return wid
        return None
    return wait_until(find, timeout, "worker %d to register" % pid)


def enqueue_raw(client, queue, payload, namespace="resque"):
    """Exactly what Ruby's Resque.push does: SADD queues + RPUSH of the JSON."""
    if not isinstance(payload, (str, bytes)):
        payload = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    client.sadd(namespace + ":queues", queue)
    client.rpush("%s:queue:%s" % (namespace, queue), payload)


def failures(client, namespace="resque"):
    return [json.loads(x) for x in client.lrange(namespace + ":failed", 0, -1)]


def alive(pid):
    """True while pid runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().split(")")[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or before the read
        return False


def dead_pid():
    """A pid that belonged to a process of this host and is gone now."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def in_sleep(pid):
    """True once `pid` is blocked in a sleep (its kernel wait channel says so). A signal that
    lands between a job's last bytecode and its blocking call is only acted on by Python when
    the call returns, so a test that signals a job's child first waits for this."""
    try:
        with open("/proc/%d/wchan" % pid) as fh:
            return "sleep" in fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
