"""The fork server: a lean process that forks the job children for the worker.

Fork cost follows the size of the process that forks: page tables are copied at fork, and
every page either side writes afterwards faults. The worker's parent carries redis-py (its
import alone is ~17 MB, asyncio included), the pub/sub connection and the loop's state; the
fork server is forked from the CLI process right after the --require modules are imported and
before forkq imports redis-py (forkq.proc.helper), so it holds the app and forkq's child code
and nothing else, and does almost nothing per job: no decode, no title, no import.

One message each way per job. The worker sends the job (framing.job_frame: the payload as
Redis gave it); the server forks, and when the child has ended it reaps it (forkq.proc.reap:
the child's group and every stray descendant killed first; the server is their subreaper) and
sends one frame with the child's report (the bytes the child wrote on its pipe, which only the
server reads, and never waits on past the child's end), wait status, peak RSS and CPU. The
worker needs the child's pid before that only to signal its group (escalation) or show it: the
server writes it in a page both share (MAP_SHARED, made before the fork) the moment it forks,
and a job still running NOTICE_AFTER later gets a notice, so the worker's title names its child.

The worker keeps every decision: it reserves, supervises, escalates, and records. If it dies
(even by SIGKILL), the server learns it by a parent-death signal it can catch (SIGHUP), kills
every child's process group and every stray, and exits.
"""
import gc
import mmap
import os
import select
import signal
import socket
import struct
import time

from forkq.proc import child, framing, helper, kernel, reap, timeouts

NOTICE_AFTER = 0.002  # a job running this long gets a notice of its pid (the worker's title)
SPAWN_WAIT = 10.0     # a server that has not forked a job by then is stuck: it is killed
FORKED, ENDED, FAILED = 0, 1, 2
_MESSAGE = struct.Struct(">BqiiQd")  # kind, job number, pid, wait status, peak RSS KB, CPU s
_SLOT = struct.Struct("=qq")         # job number, pid: the page's slot for a job
SLOTS = 64


def _decode(body):
    kind, number, pid, status, maxrss, cpu = _MESSAGE.unpack_from(body)
    return kind, number, pid, status, maxrss, cpu, body[_MESSAGE.size:]


class ForkServer:
    """The worker's end."""
    spawn_wait = SPAWN_WAIT

    def __init__(self, pid, sock, page, titles):
        self.pid = pid
        self.sock = sock
        self.page = page
        self.titles = titles
        self.reader = framing.Reader(_decode)
        self.sent = 0        # job numbers, counted alike on both ends
        self.ended = {}      # job number -> (pid, status, maxrss KB, cpu s, report bytes)
        self.failed = {}     # job number -> why the server could not fork it
        self.dead = False

    @classmethod
    def start(cls, ctx_factory, titles):
        """Fork the server now (call before forkq.worker.loop is imported). `ctx_factory(box)`
        builds the child.Context its children run with."""
        parent_sock, server_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        page = mmap.mmap(-1, SLOTS * _SLOT.size)
        pid = helper.start(titles, "Fork server for %d", _serve, server_sock, parent_sock,
                           page, ctx_factory)
        server_sock.close()
        return cls(pid, parent_sock, page, titles)

    def fileno(self):
        return self.sock.fileno()

    def spawn(self, message):
        """Send a job ({"queue", "raw", "at"}); returns its job number, for pid_of/take.
        Raises OSError if the server is gone (the caller falls back)."""
        data = framing.job_frame(message["queue"], message["raw"], message["at"])
        try:
            self.sock.sendall(data)
        except OSError:
            self.dead = True
            raise
        self.sent += 1
        return self.sent

    def pid_of(self, number):
        """The job's child's pid, once the server has forked it (else None)."""
        got_number, pid = _SLOT.unpack_from(self.page, (number % SLOTS) * _SLOT.size)
        return pid if got_number == number else None

    def poll(self):
        """Take what the server sent, without blocking."""
        while not self.dead:
            try:
                data = self.sock.recv(1 << 18, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self.dead = True
                return
            for kind, number, pid, status, maxrss, cpu, tail in self.reader.feed(data):
                if kind == ENDED:
                    self.ended[number] = (pid, status, maxrss, cpu, tail)
                elif kind == FAILED:
                    self.failed[number] = tail.decode("utf-8", "replace")
                elif number == self.sent and number not in self.ended:
                    self.titles.forked(pid, int(time.time()))

    def take(self, number):
        """How job `number`'s child ended, once the server says: (pid, status, maxrss KB,
        cpu s, report bytes); ("fork failed: …",) if the server could not fork it."""
        if number in self.failed:
            return (self.failed.pop(number),)
        return self.ended.pop(number, None)

    def kill(self):
        """Stuck (it never forked a job it was sent): end it, and with it (PDEATHSIG) any
        child it forked, so the job can be recorded."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.dead = True

    def discard(self):
        """The server died (its socket closed) or was killed: reap it, release its socket."""
        self.kill()
        self._release()

    def stop(self):
        try:
            self.sock.sendall(framing.frame_bytes(b""))
        except OSError:
            pass
        self._release()

    def _release(self):
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        reap.KEEP.discard(self.pid)
        self.sock.close()


class _Served:
    """The server's record of one live child."""
    __slots__ = ("number", "report_r", "report", "forked_at", "noticed")

    def __init__(self, number, report_r):
        self.number = number
        self.report_r = report_r
        self.report = bytearray()
        self.forked_at = time.monotonic()
        self.noticed = False

    def drain(self):
        while True:
            try:
                chunk = os.read(self.report_r, 65536)
            except (BlockingIOError, InterruptedError):
                return
            if not chunk:
                return
            self.report += chunk


def _serve(box, parent_pid, sock, parent_sock, page, ctx_factory):
    """The server's loop: fork on request, reap, report. Single-threaded; it waits in one
    place, and takes signals there (they only record: the worker decides)."""
    parent_sock.close()
    kernel.become_subreaper()
    timeouts.install()
    ctx = ctx_factory(box)
    ctx.parent_pid = os.getpid()
    reader = framing.Reader(bytes)
    live = {}     # pid -> _Served
    number = 0
    gc.freeze()
    while True:
        if not helper.parent_alive(parent_pid):  # SIGHUP woke us, or it died before
            _orphaned(live)
            return
        timeout = None
        waiting = [s.forked_at for s in live.values() if not s.noticed]
        if waiting:
            timeout = max(0.0, min(waiting) + NOTICE_AFTER - time.monotonic())
        try:
            ready = select.select([sock, box] + [s.report_r for s in live.values()], (), (),
                                  timeout)[0]
        except InterruptedError:
            ready = ()
        box.take()
        if live:
            _reap(sock, live)
        if sock not in ready:
            continue
        try:
            data = sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            continue
        if not data:  # the worker's end closed without a stop: it died
            _orphaned(live)
            return
        for body in reader.feed(data):
            if not body:  # stop
                while live:
                    _reap(sock, live, block=True)
                return
            number += 1
            _fork(sock, body, number, ctx, page, live)


def _fork(sock, body, number, ctx, page, live):
    report_r, report_w = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(report_r)
        os.close(report_w)
        _send(sock, FAILED, number, tail=("fork failed: %s" % exc).encode())
        return
    if pid == 0:
        try:  # the title first: until then it is the server's, and tools tell them by it
            job = child.job_from_message(framing.job_fields(body))
            ctx.titles.processing(job.queue, int(job.reserved_at), job.class_name)
            sock.close()
            os.close(report_r)
            ctx.report_w = report_w
        except BaseException:
            os._exit(child.ExitCode.CHILD_ERROR)
        child.run(job, ctx)  # never returns
    os.close(report_w)
    _SLOT.pack_into(page, (number % SLOTS) * _SLOT.size, number, pid)
    try:
        os.setpgid(pid, pid)  # also done in the child; whichever runs first wins the race
    except OSError:
        pass
    os.set_blocking(report_r, False)
    live[pid] = _Served(number, report_r)


def _reap(sock, live, block=False):
    now = time.monotonic()
    for pid, served in list(live.items()):
        served.drain()  # a report longer than the pipe holds must not stall its child
        ended = reap.reap(pid, block=block, keep=live)
        if ended is None:
            if not served.noticed and now - served.forked_at >= NOTICE_AFTER:
                served.noticed = True
                _send(sock, FORKED, served.number, pid)
            continue
        del live[pid]
        served.drain()  # all it wrote is in the pipe now; a stray holding it is dead too
        os.close(served.report_r)
        status, maxrss, cpu = ended
        _send(sock, ENDED, served.number, pid, status, maxrss or 0, cpu or 0.0,
              bytes(served.report))


def _orphaned(live):
    """The worker died: nobody will supervise or record these jobs (the next prune records
    them), and nothing they started may run on."""
    for pid in live:
        timeouts.kill_group(pid, signal.SIGKILL)
    for pid in live:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    reap.sweep()


def _send(sock, kind, number, pid=0, status=0, maxrss=0, cpu=0.0, tail=b""):
    try:
        sock.sendall(framing.frame_bytes(_MESSAGE.pack(kind, number, pid, status, maxrss, cpu)
                                         + tail))
    except OSError:
        pass  # the worker is gone: the loop finds out at its next wake
