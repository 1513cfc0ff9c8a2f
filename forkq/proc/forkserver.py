"""The fork server: a lean process that forks the job children for the worker.

Fork cost follows the size of the process that forks: page tables are copied at fork, and
every page either side writes afterwards faults. The worker's parent carries redis-py (its
import alone is ~17 MB, asyncio included), the pub/sub connection and the loop's state; the
fork server is forked from the CLI process right after the --require modules are imported and
before forkq imports redis-py, so it holds the app and forkq's child code and nothing else, and
does almost nothing per job. The parent keeps every decision: it reserves, sends the job here,
gets the child's pid and report pipe back (SCM_RIGHTS), supervises, escalates (it may signal
the child's process group directly), and records. This process only forks and reaps, killing
the child's group before reaping so no grandchild outlives a job. If the worker dies (even by
SIGKILL), the server learns it by a parent-death signal it can catch (SIGHUP), kills every
child's process group, grandchildren included, and exits.

Messages on the socket are child.frame()s: parent → server {"queue","raw","at"} (a job) or
{"stop": 1}; server → parent {"forked": pid} with the report pipe's read end attached,
{"error": text}, or {"exited": pid, "status": wait status, "maxrss": KB, "cpu": s}.
"""
import gc
import os
import select
import signal
import socket
import time

from forkq.proc import child, framing, timeouts


class ForkServer:
    """The parent's end."""

    def __init__(self, pid, sock):
        self.pid = pid
        self.sock = sock
        self.buffer = bytearray()
        self.fds = []
        self.events = []
        self.dead = False

    @classmethod
    def start(cls, ctx_factory, titles):
        """Fork the server now (call before forkq.worker.loop is imported). `ctx_factory(box)`
        builds the child.Context its children run with."""
        parent_sock, server_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        parent_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            parent_sock.close()
            code = 1
            try:
                _serve(server_sock, parent_pid, ctx_factory, titles)
                code = 0
            finally:
                os._exit(code)
        server_sock.close()
        parent_sock.setblocking(False)
        return cls(pid, parent_sock)

    def fileno(self):
        return self.sock.fileno()

    def spawn(self, message, timeout=10.0):
        """Ask for a child; returns (pid, report_r). Raises OSError if the server cannot."""
        self.sock.setblocking(True)
        try:
            self.sock.sendall(framing.frame(message))
        except OSError:
            self.dead = True  # it died while we were idle: the caller falls back
            raise
        finally:
            self.sock.setblocking(False)
        deadline = time.monotonic() + timeout
        while not self.dead:
            for i, event in enumerate(self.events):
                if "forked" in event or "error" in event:
                    del self.events[i]
                    if "error" in event:
                        raise OSError(event["error"])
                    return event["forked"], self.fds.pop(0)
            left = deadline - time.monotonic()
            if left <= 0:
                # Stuck: end it, and with it (PDEATHSIG) any child it forked for this job, so
                # the caller can put the job back without it running twice. (Whatever such a
                # child started itself is out of reach: we never learnt its pid.)
                os.kill(self.pid, signal.SIGKILL)
                self.dead = True
                break
            try:
                select.select((self.sock,), (), (), left)
            except InterruptedError:
                pass
            self.poll()
        raise OSError("the fork server did not answer")

    def poll(self):
        """Read what the server sent; events queue up in self.events."""
        while not self.dead:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 16)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                data, fds = b"", []
            if not data:
                self.dead = True
                break
            self.buffer += data
            self.fds.extend(fds)
            self.events.extend(framing.unframe(self.buffer))

    def take_exit(self, pid):
        """The exit event for `pid`, if it came: (status, maxrss KB, cpu seconds)."""
        for i, event in enumerate(self.events):
            if event.get("exited") == pid:
                del self.events[i]
                return event["status"], event["maxrss"], event["cpu"]
        return None

    def discard(self):
        """The server died (its socket closed) or was killed: reap it, release its socket and
        any fds it sent that nobody took."""
        self.dead = True
        try:
            os.kill(self.pid, signal.SIGKILL)  # a closed socket means it is gone or going
        except ProcessLookupError:
            pass
        self._release()

    def stop(self):
        try:
            self.sock.setblocking(True)
            self.sock.sendall(framing.frame({"stop": 1}))
        except OSError:
            pass
        self._release()

    def _release(self):
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self.sock.close()
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def _serve(sock, parent_pid, ctx_factory, titles):
    """The server's loop: fork on request, reap, report. Single-threaded, like the parent."""
    from forkq.proc.signals import HANDLED, SignalBox
    box = SignalBox()
    # Signals only record here (shutdowns are the worker's call; SIGCHLD wakes the loop; SIGHUP
    # is the worker's death, below), and children reset every one of them to its default.
    box.install(HANDLED + (signal.SIGHUP,))
    if child._prctl is not None:
        child._prctl(child._PR_SET_PDEATHSIG, signal.SIGHUP, 0, 0, 0)
    timeouts.install()
    ctx = ctx_factory(box)
    ctx.parent_pid = os.getpid()
    titles.set("Fork server for %d" % parent_pid)
    idle_title = titles.head + "Fork server for %d" % parent_pid
    buffer = bytearray()
    children = set()
    sock.setblocking(False)
    gc.freeze()
    while True:
        if os.getppid() != parent_pid:  # the worker is gone (SIGHUP woke us, or before it)
            _orphaned(children)
            return
        try:
            select.select((sock, box), (), ())
        except InterruptedError:
            pass
        box.take()
        if os.getppid() != parent_pid:
            continue
        _reap(sock, children)
        try:
            data = sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            continue
        if not data:  # the worker's end closed without a stop: it died
            _orphaned(children)
            return
        buffer += data
        for message in framing.unframe(buffer):
            if "stop" in message:
                _reap(sock, children, block=True)
                return
            _fork(sock, message, ctx, titles, idle_title, children)


def _fork(sock, message, ctx, titles, idle_title, children):
    job = child.job_from_message(message)
    report_r, report_w = os.pipe()
    titles.processing(job.queue, int(job.reserved_at), job.class_name)  # the child shows it
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(report_r)
        os.close(report_w)
        _send(sock, {"error": "fork failed: %s" % exc})
        return
    if pid == 0:
        sock.close()
        os.close(report_r)
        ctx.report_w = report_w
        child.run(job, ctx)  # never returns
    os.close(report_w)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    children.add(pid)
    from setproctitle import setproctitle
    setproctitle(idle_title)
    _send(sock, {"forked": pid}, [report_r])
    os.close(report_r)


def _reap(sock, children, block=False):
    for pid in list(children):
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT |
                             (0 if block else os.WNOHANG))
        except ChildProcessError:
            children.discard(pid)
            continue
        if info is None:
            continue
        timeouts.kill_group(pid, signal.SIGKILL)  # grandchildren end with the job
        _pid, status, usage = os.wait4(pid, 0)
        children.discard(pid)
        _send(sock, {"exited": pid, "status": status, "maxrss": usage.ru_maxrss,
                     "cpu": round(usage.ru_utime + usage.ru_stime, 4)})


def _orphaned(children):
    """The worker died: nobody will supervise or record these jobs (the next prune records
    them), and nothing they started may run on."""
    for pid in children:
        timeouts.kill_group(pid, signal.SIGKILL)
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _send(sock, message, fds=()):
    sock.setblocking(True)
    try:
        data = framing.frame(message)
        if fds:
            sent = socket.send_fds(sock, [data], list(fds))
            data = data[sent:]
        if data:
            sock.sendall(data)
    finally:
        sock.setblocking(False)
