"""A loopback TCP relay in front of Redis that counts round trips: on each connection, data from
the client that follows data from the server (or opens the connection) starts a new trip; more
data before the server answers is the same request arriving in pieces (a 17 KB script call with
1,000 queue names takes several reads at the server, but is one trip).

Why a relay: Redis counts commands (scripts' inner ones included) and read events, neither of
which is a round trip once a request outgrows one read. Run as its own process so its work is
not charged to the worker under test nor to the bench's sampling loop.

    python bench/tripcount.py UPSTREAM_PORT    # prints its own port; then, for each line read
                                               # on stdin, one line: trips connections
"""
import selectors
import socket
import subprocess
import sys


class Relay:
    """The relay run from the bench: `url` for the worker, `trips()` the count so far."""

    def __init__(self, upstream_port, db=0):
        self.proc = subprocess.Popen([sys.executable, __file__, str(upstream_port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        port = self.proc.stdout.readline().strip()
        if not port:
            self.stop()
            raise RuntimeError("trip-counting relay did not start")
        self.url = "redis://127.0.0.1:%s/%d" % (port, db)

    def trips(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline().split()[0])

    def note(self, count=1):
        """The bench's own requests do not pass through the relay: nothing to take off."""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()  # EOF: it returns
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def main():
    upstream = ("127.0.0.1", int(sys.argv[1]))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(sys.stdin, selectors.EVENT_READ, "control")
    print(listener.getsockname()[1], flush=True)
    trips = conns = 0
    peer = {}       # socket -> the other end
    answered = {}   # client socket -> the server has spoken since the client last did
    while True:
        for key, _ in sel.select():
            what, sock = key.data, key.fileobj
            if what == "accept":
                client, _ = listener.accept()
                server = socket.create_connection(upstream)
                for s in (client, server):
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                peer[client], peer[server] = server, client
                answered[client] = True
                conns += 1
                sel.register(client, selectors.EVENT_READ, "client")
                sel.register(server, selectors.EVENT_READ, "server")
                continue
            if what == "control":
                if not sys.stdin.readline():
                    return  # the bench is gone
                print(trips, conns, flush=True)
                continue
            if sock not in peer:
                continue  # closed with its partner earlier in this batch
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            other = peer.get(sock)
            if not data or other is None:
                for s in (sock, other):
                    if s is not None:
                        sel.unregister(s)
                        s.close()
                        peer.pop(s, None)
                        answered.pop(s, None)
                continue
            if what == "client":
                if answered[sock]:
                    trips += 1
                    answered[sock] = False
            else:
                answered[other] = True
            try:
                other.sendall(data)
            except OSError:
                pass  # the other end closed: its own read event tears the pair down


if __name__ == "__main__":
    main()
