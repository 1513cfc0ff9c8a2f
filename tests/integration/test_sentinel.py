"""Redis Sentinel: one client recipe (forkq/store/client.py) reads redis+sentinel:// URLs for
the worker, the admin commands and forkq.enqueue, and asks the sentinels for the master on
every (re)connection. A real failover (one master, one replica, three sentinels on loopback;
the master killed, or failed over with SENTINEL FAILOVER) in the middle of a 1,000-job drain
by two workers: nothing lost, one record per job, both workers carry on with the new master."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import redis
from harness import SUPPORT, RedisServer, WorkerProcess, free_port, wait_until, worker_env

import forkq
from forkq.config import ConfigError
from forkq.store import address

JOBS = 1000
MASTER = "forkqtest"
FAST = ("--interval", "0.1", "--heartbeat-interval", "1", "--prune-interval", "10",
        "-r", "workerjobs")


def sentinel_binary():
    if shutil.which("redis-sentinel"):
        return [shutil.which("redis-sentinel")]
    if shutil.which("redis-server"):
        return [shutil.which("redis-server")]  # with --sentinel below: the same program
    return None


class Sentinels:
    """Three sentinels watching `port` as MASTER, quick to act (1 s down-after)."""

    def __init__(self, master_port, count=3):
        self.dir = tempfile.mkdtemp(prefix="forkq-sentinel-")
        self.ports, self.procs = [], []
        binary = sentinel_binary()
        for i in range(count):
            port = free_port()
            conf = os.path.join(self.dir, "s%d.conf" % i)
            with open(conf, "w") as fh:  # a sentinel rewrites its file: one each, writable
                fh.write("port %d\nbind 127.0.0.1\ndir %s\n"
                         "sentinel monitor %s 127.0.0.1 %d 2\n"
                         "sentinel down-after-milliseconds %s 1000\n"
                         "sentinel failover-timeout %s 10000\n"
                         "sentinel parallel-syncs %s 1\n"
                         % (port, self.dir, MASTER, master_port, MASTER, MASTER, MASTER))
            self.procs.append(subprocess.Popen(
                binary + [conf, "--sentinel", "--logfile", conf + ".log"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.ports.append(port)

    @property
    def url(self):
        return "redis+sentinel://%s/%s" % (",".join("127.0.0.1:%d" % p for p in self.ports),
                                           MASTER)

    def client(self, i=0):
        return redis.Redis(host="127.0.0.1", port=self.ports[i], socket_timeout=5)

    def master_port(self):
        return int(self.client().sentinel_get_master_addr_by_name(MASTER)[1])

    def ready(self):
        """Every sentinel knows the replica and the two other sentinels."""
        try:
            for i in range(len(self.ports)):
                c = self.client(i)
                if len(c.sentinel_slaves(MASTER)) < 1 or \
                        len(c.sentinel_sentinels(MASTER)) < len(self.ports) - 1:
                    return False
            return True
        except redis.RedisError:
            return False

    def cleanup(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    if sentinel_binary() is None:
        pytest.skip("neither redis-sentinel nor redis-server is installed (tests/run.sh "
                    "installs redis-server, which runs as a sentinel with --sentinel)")
    master = RedisServer()
    replica = RedisServer(extra=["--replicaof", "127.0.0.1", str(master.port)])
    sentinels = Sentinels(master.port)
    try:
        wait_until(lambda: replica.client().info("replication").get("master_link_status")
                   == "up", 20, "the replica to sync")
        wait_until(sentinels.ready, 30, "the sentinels to find the replica and each other")
        yield master, replica, sentinels
    finally:
        sentinels.cleanup()
        replica.cleanup()
        master.cleanup()


def test_sentinel_urls_are_read_and_bad_ones_refused():
    where = address.parse("redis+sentinel://u:p%40ss@h1:26379,[::1]:26380/mymaster/2"
                          "?sentinel_password=sp")
    assert where.hosts == (("h1", 26379), ("::1", 26380)) and where.master == "mymaster"
    assert (where.db, where.username, where.password) == (2, "u", "p@ss")
    assert where.sentinel_password == "sp" and not where.ssl
    assert address.parse("redis://localhost:1/0") is None
    for bad in ("redis+sentinel://h1:1", "redis+sentinel://h1/m", "redis+sentinel://h:1/m/x",
                "redis+sentinel://h:1/m?nope=1", "bogus://h/0", "h:1"):
        with pytest.raises(ConfigError):
            address.parse(bad)


def test_a_bad_url_is_a_config_error_not_a_traceback(url):
    for argv in (["work", "-q", "default", "--burst"], ["queues"]):
        proc = subprocess.run([sys.executable, "-m", "forkq"] + argv + [
            "--redis-url", "redis+sentinel://127.0.0.1:1"], env=worker_env(url), cwd=SUPPORT,
            capture_output=True, text=True, timeout=30)
        assert proc.returncode == 78, proc.stderr
        assert "master's name is missing" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("how", ["kill", "SENTINEL FAILOVER"])
def test_failover_during_a_drain_loses_nothing(cluster, url, r, how):
    master, replica, sentinels = cluster
    # the producer and the admin layer reach the master through the sentinels too
    producer = forkq.connect(url=sentinels.url)
    pipe_start = time.monotonic()
    for i in range(JOBS):
        forkq.enqueue("Chaos", i, queue="drain", connection=producer.redis)
    assert master.client().llen("resque:queue:drain") == JOBS
    env = {"FORKQ_TEST_REDIS_URL": url}  # the jobs' markers go to the suite's own server
    workers = [WorkerProcess(sentinels.url, ("-q", "drain") + FAST, env=env) for _ in range(2)]
    try:
        wait_until(lambda: r.llen("test:chaos") >= JOBS // 5, 60, "a fifth of the drain")
        if how == "kill":
            os.kill(master.proc.pid, signal.SIGKILL)  # the master dies mid-drain
            master.proc.wait(10)
        else:
            # a planned failover: the old master answers as one for ~10 s more; with
            # min-replicas-to-write it refuses writes (NOREPLICAS) from the moment its
            # replica is promoted, so nothing is written where it would be discarded
            master.client().config_set("min-replicas-to-write", 1)
            master.client().config_set("min-replicas-max-lag", 10)
            assert sentinels.client().execute_command("SENTINEL", "FAILOVER", MASTER)
        wait_until(lambda: sentinels.master_port() == replica.port, 30,
                   "the sentinels to promote the replica")
        new = replica.client()
        wait_until(lambda: new.get("resque:stat:processed") == str(JOBS).encode(), 60,
                   "the drain to finish on the new master (processed %s)"
                   % new.get("resque:stat:processed"))
        took = time.monotonic() - pipe_start
        ran = [int(x) for x in r.lrange("test:chaos", 0, -1)]
        assert sorted(set(ran)) == list(range(JOBS))  # 0 lost
        assert new.llen("resque:failed") == 0          # one record per job: its done
        assert new.llen("resque:queue:drain") == 0
        for worker in workers:
            assert worker.alive(), worker.log
        # both follow the new master: registered there, heartbeating there
        wait_until(lambda: len(new.smembers("resque:workers")) == 2, 20, "both registered")
        assert len(new.hgetall("resque:workers:heartbeat")) == 2
        print("sentinel failover (%s): %d jobs in %.1f s, %d run twice"
              % (how, JOBS, took, len(ran) - len(set(ran))))
        # the admin layer through the sentinels
        from forkq.store.admin import Admin
        assert dict(Admin(sentinels.url, "resque").queues()).get("drain") == 0
    finally:
        for worker in workers:
            worker.stop()
