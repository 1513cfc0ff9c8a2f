"""The benchmark's own redis-server: a free loopback port (never 6379), no persistence, a
throw-away directory, stopped at the end. Nothing else on the machine shares it, so
INFO commandstats counts only the worker under test and the bench's own probes."""
import shutil
import socket
import subprocess
import tempfile
import time

import redis

# Commands the bench itself sends while a worker runs (INFO to read the counters, CONFIG to
# switch keyspace events): left out of every count.
BENCH_COMMANDS = ("cmdstat_info", "cmdstat_config")


class RedisServer:
    def __init__(self):
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server not found (apt-get install redis-server)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="forkq-bench-")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = "redis://127.0.0.1:%d/0" % self.port
        self.r = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.r.ping()
                break
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not start on port %d" % self.port)
                time.sleep(0.02)
        self.version = self.r.info("server")["redis_version"]

    def stats(self):
        """Commands executed so far, by name. A Lua script counts once as EVAL or EVALSHA and
        once more for every command it runs (they appear under their own names)."""
        stats = self.r.info("commandstats")
        return {k[len("cmdstat_"):]: v["calls"] for k, v in stats.items()
                if not k.startswith(BENCH_COMMANDS)}

    def calls(self):
        """Commands executed so far, all kinds added up."""
        return sum(self.stats().values())

    def idle_count(self):
        """(commands issued so far, clients blocked now). A blocking command (rq's BLPOP)
        reaches commandstats only when it returns; a client blocked right now has issued one
        more. So commands issued over a window = the calls' delta + the blocked clients' delta."""
        return self.calls(), self.r.info("clients")["blocked_clients"]

    def cpu(self):
        """CPU seconds the server has used so far (main thread and children)."""
        info = self.r.info("cpu")
        return info["used_cpu_user"] + info["used_cpu_sys"]

    def reads(self):
        """Read events so far (INFO stats total_reads_processed, Redis >= 6), each one a
        request arriving: a pipeline or a script call that arrives whole is one read. This
        INFO's own read is counted in the figure it returns. None if the server lacks it."""
        return self.r.info("stats").get("total_reads_processed")

    def fresh(self):
        """Empty data and zeroed counters before each measured run."""
        self.r.flushall()
        self.r.config_resetstat()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class ReadEvents:
    """A worker's round trips as the server's read events less the bench's own requests (its
    INFOs and LLEN probes). Exact while every request arrives in one read, as all the drain
    contenders' do (a few hundred bytes); a request over 16 KB takes more reads: see
    tripcount.py for the count that does not depend on it."""

    def __init__(self, server):
        self.server = server
        self.own = 0

    def note(self, count=1):
        self.own += count

    def trips(self):
        value = self.server.reads()
        self.own += 1
        return None if value is None else value - self.own
