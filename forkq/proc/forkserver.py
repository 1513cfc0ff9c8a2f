"""The fork server: a lean process that forks the job children for the worker.

Fork cost follows the size of the process that forks: page tables are copied at fork, and
every page either side writes afterwards faults. The worker's parent carries redis-py (its
import alone is ~17 MB, asyncio included), the pub/sub connection and the loop's state; the
fork server is forked from the CLI process right after the --require modules are imported and
before forkq imports redis-py (forkq.proc.helper), so it holds the app and forkq's child code
and nothing else, and does almost nothing per job: no decode, no title, no import, no pipe.

Per job the worker sends one message (framing.job_frame: the payload as Redis gave it) and
gets one from the server: how the child ended (wait status, peak RSS, CPU), sent once the
server has reaped it (forkq.proc.reap: its group and every stray descendant killed first; the
server is their subreaper). The child's report does not wait for that: it goes straight to the
worker as one datagram, tagged with the job's number, on a socket every child of the server
shares, so the worker records the job and reserves the next while the child exits and is
reaped. (Measured: reporting outcome and exit together in one frame was slower, since the
worker then waits for the child's exit.)

Each job's child is forked ahead, before its job comes: it gets ready (its own group, signal
dispositions, death with its parent: child.setup) and waits on a pipe of its own while the
worker talks to Redis; the server writes the job there and forks the next. So neither the
fork nor the child's start is on the path from reserve to perform (measured on 2,000 no-op
jobs: 5.5 s → 3.5 s). A child that dies before its job is replaced and the job goes to a new
one; after that the server forks on demand until a job is handed over again, so a child that
cannot start (memory, a crashing at-fork hook) is not forked over and over while idle.

The worker needs the child's pid only to signal its group (escalation) or show it: the server
writes it in a page both share (MAP_SHARED, made before the fork) the moment it hands the job
over, and a job still running serving.NOTICE_AFTER (5 ms) later gets a notice, so the worker's title
names its child.

The worker keeps every decision: it reserves, supervises, escalates, and records. If it dies
(even by SIGKILL), the server learns it by a parent-death signal it can catch (SIGHUP), kills
every child's process group and every stray, and exits.

This module is the worker's end; the server's own loop is forkq.proc.serving.
"""
import mmap
import os
import signal
import socket
import time

from forkq.proc import child, framing, helper, reap
from forkq.proc.serving import CHUNK, ENDED, FAILED, MESSAGE, SLOT, SLOTS, TAG, serve

SPAWN_WAIT = 10.0     # a server that has not forked a job by then is stuck: it is killed


def _decode(body):
    kind, number, pid, status, maxrss, cpu = MESSAGE.unpack_from(body)
    return kind, number, pid, status, maxrss, cpu, body[MESSAGE.size:]


class ForkServer:
    """The worker's end."""
    spawn_wait = SPAWN_WAIT

    def __init__(self, pid, sock, reports, page, titles):
        self.pid = pid
        self.sock = sock
        self.reports = reports  # the children's reports come here, one datagram each
        self.page = page
        self.titles = titles
        self.reader = framing.Reader(_decode)
        self.sent = 0        # job numbers, counted alike on both ends
        self.ended = {}      # job number -> (pid, status, maxrss KB, cpu s)
        self.failed = {}     # job number -> why the server could not fork it
        self.reported = {}   # job number -> the reports its child sent
        # one datagram at a time; the child cuts its report to fit (child.REPORT_MAX)
        self.report_buffer = memoryview(bytearray(child.REPORT_MAX + TAG.size + 4096))
        self.dead = False
        # Whether a read may find something: set when a select says so (note_ready), cleared
        # once a read would block. An empty non-blocking read costs a syscall and an exception.
        self.sock_unread = self.reports_unread = True

    @classmethod
    def start(cls, ctx_factory, titles):
        """Fork the server now (call before forkq.worker.loop is imported). `ctx_factory(box)`
        builds the child.Context its children run with."""
        parent_sock, server_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        reports_r, reports_w = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        reports_r.shutdown(socket.SHUT_WR)
        reports_w.shutdown(socket.SHUT_RD)
        page = mmap.mmap(-1, SLOTS * SLOT.size)
        pid = helper.start(titles, "Fork server for %d", serve, server_sock,
                           (parent_sock, reports_r), reports_w, page, ctx_factory)
        server_sock.close()
        reports_w.close()
        return cls(pid, parent_sock, reports_r, page, titles)

    def fileno(self):
        return self.sock.fileno()

    def spawn(self, message, class_name=""):
        """Send a job ({"queue", "raw", "at"}); returns its job number, for pid_of/take.
        Raises OSError if the server is gone (the caller falls back)."""
        data = framing.job_frame(message["queue"], message["raw"], message["at"], class_name)
        try:
            self.sock.sendall(data)
        except OSError:
            self.dead = True
            raise
        self.sent += 1
        return self.sent

    def pid_of(self, number):
        """The job's child's pid, once the server has forked it (else None)."""
        got_number, pid = SLOT.unpack_from(self.page, (number % SLOTS) * SLOT.size)
        return pid if got_number == number else None

    def note_ready(self, ready):
        """After a select over `ready`'s candidates: which of our sockets may be read (None:
        both)."""
        if ready is None or self in ready:
            self.sock_unread = True
        if ready is None or self.reports.fileno() in ready:
            self.reports_unread = True

    def poll(self):
        """Take what the server sent, without blocking."""
        while not self.dead and self.sock_unread:
            try:
                data = self.sock.recv(CHUNK, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                self.sock_unread = False
                return
            except OSError:
                data = b""
            if not data:
                self.dead = True
                return
            for kind, number, pid, status, maxrss, cpu, tail in self.reader.feed(data):
                if kind == ENDED:
                    self.ended[number] = (pid, status, maxrss, cpu)
                elif kind == FAILED:
                    self.failed[number] = tail.decode("utf-8", "replace")
                elif number == self.sent and number not in self.ended:
                    self.titles.forked(pid, int(time.time()))

    def take_reports(self, number, force=False):
        """The reports job `number`'s child has sent so far (a frame that does not decode is
        left out: the exit status tells). `force`: read even if no select said so (the child
        has exited: whatever it sent is there)."""
        view = self.report_buffer
        while self.reports_unread or force:
            try:
                size = self.reports.recv_into(view, 0, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                self.reports_unread = False
                break
            except OSError:
                break
            if size < TAG.size:
                break  # EOF (the server and every child gone) or a stray's junk
            tag = TAG.unpack_from(view)[0]
            self.reported.setdefault(tag, []).extend(
                framing.Reader().feed(view[TAG.size:size]))
        return self.reported.pop(number, ())

    def forget(self, number):
        self.reported.pop(number, None)

    def take(self, number):
        """How job `number`'s child ended, once the server says: (pid, status, maxrss KB,
        cpu s); ("fork failed: …",) if the server could not fork it."""
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
        self.reports.close()
