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
over, and a job still running NOTICE_AFTER (5 ms) later gets a notice, so the worker's title
names its child.

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

NOTICE_AFTER = 0.005  # a job running this long gets a notice of its pid (the worker's title)
SPAWN_WAIT = 10.0     # a server that has not forked a job by then is stuck: it is killed
FORKED, ENDED, FAILED = 0, 1, 2
_MESSAGE = struct.Struct(">BqiiQd")  # kind, job number, pid, wait status, peak RSS KB, CPU s
_SLOT = struct.Struct("=qq")         # job number, pid: the page's slot for a job
_TAG = struct.Struct(">q")           # a report datagram's job number
SLOTS = 64
_CHUNK = 1 << 16  # per read from a stream: a larger buffer is a fresh mmap each time


def _decode(body):
    kind, number, pid, status, maxrss, cpu = _MESSAGE.unpack_from(body)
    return kind, number, pid, status, maxrss, cpu, body[_MESSAGE.size:]


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
        self.report_buffer = memoryview(bytearray(child.REPORT_MAX + _TAG.size + 4096))
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
        page = mmap.mmap(-1, SLOTS * _SLOT.size)
        pid = helper.start(titles, "Fork server for %d", _serve, server_sock,
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
        got_number, pid = _SLOT.unpack_from(self.page, (number % SLOTS) * _SLOT.size)
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
                data = self.sock.recv(_CHUNK, socket.MSG_DONTWAIT)
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
            if size < _TAG.size:
                break  # EOF (the server and every child gone) or a stray's junk
            tag = _TAG.unpack_from(view)[0]
            self.reported.setdefault(tag, []).extend(
                framing.Reader().feed(view[_TAG.size:size]))
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


class _Served:
    """The server's record of one live child: forked ahead (a spare, no job yet: `number` is
    None and `job_w` is where its job goes), or running job `number`."""
    __slots__ = ("number", "since", "noticed", "job_w")

    def __init__(self, job_w):
        self.number = None
        self.job_w = job_w
        self.since = time.monotonic()
        self.noticed = False


def _serve(box, parent_pid, sock, parents_ends, reports_w, page, ctx_factory):
    """The server's loop: hand each job to the child forked ahead for it, fork the next, reap,
    report. Single-threaded; it waits in one place, and takes signals there (they only record:
    the worker decides)."""
    for end in parents_ends:
        end.close()
    kernel.become_subreaper()
    timeouts.install()
    ctx = ctx_factory(box)
    ctx.parent_pid = os.getpid()
    ctx.report_w = reports_w.fileno()
    reader = framing.Reader(bytes)
    live = {}     # pid -> _Served
    spare = None  # the pid of the child forked ahead, waiting for its job
    ahead = True  # fork the next child ahead: not after one died before its job
    number = 0
    gc.freeze()
    while True:
        if not helper.parent_alive(parent_pid):  # SIGHUP woke us, or it died before
            _orphaned(live)
            return
        if spare is None and ahead:
            try:
                spare = _fork(sock, ctx, live)
            except OSError:
                ahead = False  # the next job's own fork says why
        # A child is waited on by SIGCHLD: a quick job wakes this loop once, at its end; one
        # still running NOTICE_AFTER after it got its job wakes it once more, for its notice.
        timeout = None
        for served in live.values():
            if served.number is not None and not served.noticed:
                due = max(0.0, served.since + NOTICE_AFTER - time.monotonic())
                timeout = due if timeout is None else min(timeout, due)
        try:
            ready = select.select((sock, box), (), (), timeout)[0]
        except InterruptedError:
            ready = ()
        box.take(box in ready)
        if live and _reap(sock, live):
            spare, ahead = None, False  # the spare died before its job: fork on demand
        if sock not in ready:
            continue
        try:
            data = sock.recv(_CHUNK, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            continue
        if not data:  # the worker's end closed without a stop: it died
            _orphaned(live)
            return
        for body in reader.feed(data):
            if not body:  # stop
                _close_job(live.get(spare))
                while live:
                    _reap(sock, live, block=True)
                return
            number += 1
            ahead = _hand(sock, body, number, ctx, page, live, spare)
            spare = None


def _fork(sock, ctx, live):
    """Fork a child ahead of its job: it gets ready (child.setup) while the worker is still
    busy with Redis, and then waits for its job on a pipe of its own. Its pid; OSError if the
    fork fails."""
    job_r, job_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(job_r)
        os.close(job_w)
        raise
    if pid == 0:
        try:
            os.close(job_w)
            sock.close()
            _take_job(job_r, ctx)  # never returns
        finally:
            os._exit(child.ExitCode.CHILD_ERROR)
    os.close(job_r)
    try:
        os.setpgid(pid, pid)  # before the worker learns the pid: its group exists to signal
    except OSError:
        pass
    live[pid] = _Served(job_w)
    return pid


def _take_job(job_r, ctx):
    """In a child forked ahead: get ready, wait for the job (its number, then the job message
    as the worker framed it); EOF without one: the server stops, exit quietly."""
    child.setup(ctx)
    ctx.titles.set("Ready for a job (fork server %d)" % ctx.parent_pid)
    chunks = []
    while True:
        try:
            chunk = os.read(job_r, 1 << 16)
        except InterruptedError:
            continue
        if not chunk:
            break
        chunks.append(chunk)
    data = b"".join(chunks)
    if len(data) < _TAG.size:
        os._exit(child.ExitCode.OK)
    queue, class_name, at = framing.job_header(data[_TAG.size:])
    ctx.titles.processing(queue, int(at), class_name)  # first: tools tell the job by it
    job = child.job_from_message(framing.job_fields(data[_TAG.size:]))
    ctx.report_tag = data[:_TAG.size]
    child.run(job, ctx, ready=True)


def _close_job(served):
    if served is not None and served.job_w is not None:
        try:
            os.close(served.job_w)
        except OSError:
            pass
        served.job_w = None


def _hand(sock, body, number, ctx, page, live, spare):
    """Give job `number` to the spare (forked now if there is none, or if it died): write the
    job to its pipe and close it. False if no child took it (the worker is told why)."""
    why = "the child died before it got the job"
    for pid in (spare, None):
        if pid is None:
            try:
                pid = _fork(sock, ctx, live)
            except OSError as exc:
                why = str(exc)
                break
        served = live[pid]
        sent = framing.send(served.job_w, _TAG.pack(number) + body)
        _close_job(served)
        if not sent:  # it died before its job (reaped as a spare: nothing to report)
            continue
        served.number, served.since = number, time.monotonic()
        _SLOT.pack_into(page, (number % SLOTS) * _SLOT.size, number, pid)
        return True
    _send(sock, FAILED, number, tail=("fork failed: %s" % why).encode())
    return False


def _reap(sock, live, block=False):
    """Reap the children that ended; True if one was a spare that died before its job."""
    now = time.monotonic()
    spare_died = False
    for pid, served in list(live.items()):
        ended = reap.reap(pid, block=block, keep=live)
        if ended is None:
            if served.number is not None and not served.noticed and \
                    now - served.since >= NOTICE_AFTER:
                served.noticed = True
                _send(sock, FORKED, served.number, pid)
            continue
        del live[pid]
        if served.number is None:
            _close_job(served)
            spare_died = True
            continue
        status, maxrss, cpu = ended
        _send(sock, ENDED, served.number, pid, status, maxrss or 0, cpu or 0.0)
    return spare_died


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
