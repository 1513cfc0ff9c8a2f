"""The fork server's own process (forkq.proc.forkserver is the worker's end, and says why it
exists): its loop, the child forked ahead of each job, the hand-over, the reaping, and the
messages to the worker. Single-threaded; it waits in one place, and takes signals there (they
only record: the worker decides)."""
import gc
import os
import select
import signal
import socket
import struct
import time

from forkq.proc import child, framing, helper, kernel, reap, timeouts

NOTICE_AFTER = 0.005  # a job running this long gets a notice of its pid (the worker's title)
FORKED, ENDED, FAILED = 0, 1, 2
MESSAGE = struct.Struct(">BqiiQd")  # kind, job number, pid, wait status, peak RSS KB, CPU s
SLOT = struct.Struct("=qq")         # job number, pid: the shared page's slot for a job
TAG = struct.Struct(">q")           # a report datagram's job number
SLOTS = 64
CHUNK = 1 << 16  # per read from a stream: a larger buffer is a fresh mmap each time


class _Served:
    """The server's record of one live child: forked ahead (a spare, no job yet: `number` is
    None and `job_w` is where its job goes), or running job `number`."""
    __slots__ = ("number", "since", "noticed", "job_w")

    def __init__(self, job_w):
        self.number = None
        self.job_w = job_w
        self.since = time.monotonic()
        self.noticed = False


def serve(box, parent_pid, sock, parents_ends, reports_w, page, ctx_factory):
    """The server's loop: hand each job to the child forked ahead for it, fork the next, reap,
    report. `box` records its signals; it ends when the worker stops it or dies."""
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
            data = sock.recv(CHUNK, socket.MSG_DONTWAIT)
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
    if len(data) < TAG.size:
        os._exit(child.ExitCode.OK)
    body = data[TAG.size:]
    queue, class_name, at = framing.job_header(body)
    ctx.titles.processing(queue, int(at), class_name)  # first: tools tell the job by it
    job = child.job_from_message(framing.job_fields(body))
    ctx.report_tag = data[:TAG.size]
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
        sent = framing.send(served.job_w, TAG.pack(number) + body)
        _close_job(served)
        if not sent:  # it died before its job (reaped as a spare: nothing to report)
            continue
        served.number, served.since = number, time.monotonic()
        SLOT.pack_into(page, (number % SLOTS) * SLOT.size, number, pid)
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
        sock.sendall(framing.frame_bytes(MESSAGE.pack(kind, number, pid, status, maxrss, cpu)
                                         + tail))
    except OSError:
        pass  # the worker is gone: the loop finds out at its next wake
