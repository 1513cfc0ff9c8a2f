"""Messages on the pipes and sockets between processes: a 4-byte big-endian length and a
JSON body."""
import json
import os
import struct

_HEADER = struct.Struct(">I")


def send(fd, message):
    data = memoryview(message if isinstance(message, bytes) else frame(message))
    try:
        while data:
            data = data[os.write(fd, data):]
        return True
    except (BrokenPipeError, OSError):
        return False


def receive(fd):
    """One framed message from a blocking fd; None at EOF."""
    head = _read_exactly(fd, _HEADER.size)
    if head is None:
        return None
    body = _read_exactly(fd, _HEADER.unpack(head)[0])
    return None if body is None else json.loads(body)


def _read_exactly(fd, n):
    chunks, left = [], n
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def frame(message):
    body = json.dumps(message).encode()
    return _HEADER.pack(len(body)) + body


def unframe(buffer):
    """Split complete messages off a bytearray (in place). Returns the decoded messages."""
    out = []
    while len(buffer) >= _HEADER.size:
        size = _HEADER.unpack_from(buffer)[0]
        if len(buffer) < _HEADER.size + size:
            break
        body = bytes(buffer[_HEADER.size:_HEADER.size + size])
        del buffer[:_HEADER.size + size]
        out.append(json.loads(body))
    return out
