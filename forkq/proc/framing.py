"""Messages on the pipes and sockets between forkq's processes: a 4-byte big-endian length and
a body, JSON unless said otherwise. One reader for every stream, tolerant of a garbled frame.

Job messages (worker → fork server, worker → a child that takes several jobs) are not JSON:
the payload goes as the bytes Redis gave, so no process on the way decodes it but the one that
runs it (the worker decodes it once to pick the job; the child once to run it).
"""
import collections
import json
import os
import struct

_HEADER = struct.Struct(">I")
_JOB = struct.Struct(">dII")  # reserved at (wall clock), lengths of queue and class names
MAX_FRAME = 64 << 20          # a longer length is garbage, not a message


def frame(message):
    body = json.dumps(message).encode()
    return _HEADER.pack(len(body)) + body


def frame_bytes(body):
    return _HEADER.pack(len(body)) + body


def job_frame(queue, raw, at, class_name=""):
    """A job message: where it came from, when it was reserved and (for the child's title
    before it decodes anything) its class, then its raw payload."""
    q, c, raw = (x.encode("utf-8", "surrogateescape") if isinstance(x, str) else x
                 for x in (queue, class_name, raw))
    return frame_bytes(_JOB.pack(at, len(q), len(c)) + q + c + raw)


def job_header(body):
    """(queue, class name, reserved at) from a job message's body, without the payload."""
    at, qlen, clen = _JOB.unpack_from(body)
    start = _JOB.size
    return (body[start:start + qlen].decode("utf-8", "surrogateescape"),
            body[start + qlen:start + qlen + clen].decode("utf-8", "surrogateescape"), at)


def job_fields(body):
    """A job message's body → (queue, raw bytes, reserved at)."""
    at, qlen, clen = _JOB.unpack_from(body)
    start = _JOB.size
    return body[start:start + qlen].decode("utf-8", "surrogateescape"), \
        bytes(body[start + qlen + clen:]), at


def send(fd, message):
    data = memoryview(message if isinstance(message, bytes) else frame(message))
    try:
        while data:
            data = data[os.write(fd, data):]
        return True
    except OSError:
        return False


class Reader:
    """Splits frames off a byte stream and decodes each (`decode`, JSON by default). A frame
    whose body does not decode is skipped and counted in `garbled`; a length no message has
    means the stream itself is garbage from there on: it is dropped (`broken`)."""

    def __init__(self, decode=json.loads):
        self.decode = decode
        self.buffer = bytearray()
        self.garbled = 0
        self.broken = False
        self.ready = collections.deque()  # decoded by receive() beyond the one it returns

    def feed(self, data):
        """Add bytes; returns the messages now complete."""
        if self.broken:
            return []
        self.buffer += data
        out = []
        buffer = self.buffer
        while len(buffer) >= _HEADER.size:
            size = _HEADER.unpack_from(buffer)[0]
            if size > MAX_FRAME:
                self.garbled += 1
                self.broken = True
                buffer.clear()
                break
            end = _HEADER.size + size
            if len(buffer) < end:
                break
            body = bytes(buffer[_HEADER.size:end])
            del buffer[:end]
            try:
                out.append(self.decode(body))
            except (ValueError, UnicodeDecodeError, struct.error):
                self.garbled += 1
        return out

    def read_fd(self, fd):
        """Read what a non-blocking fd holds (a short read is all there was: the caller's next
        select says if more came). → (messages, at EOF)."""
        out = []
        while True:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                return out, False
            except OSError:
                return out, True
            if not chunk:
                return out, True
            out.extend(self.feed(chunk))
            if len(chunk) < 65536:
                return out, False

    def receive(self, fd):
        """One message from a blocking fd; None at EOF (or once the stream is garbage)."""
        while not self.ready:
            try:
                chunk = os.read(fd, 65536)
            except InterruptedError:
                continue
            if not chunk or self.broken:
                return None
            self.ready.extend(self.feed(chunk))
        return self.ready.popleft()
