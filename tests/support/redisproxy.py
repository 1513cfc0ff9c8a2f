"""A TCP proxy between a worker and the suite's redis-server that can lose one reply.

It forwards every byte both ways (one thread, selectors). Armed with `lose_next_job_reply()`,
it watches each request that runs a Lua script (EVALSHA/EVAL): if Redis answers it with a
reserved job (the cycle script's ["job", ...] reply), the proxy swallows that reply and cuts
the connection. The script has run in Redis (the job is popped and claimed) but the worker
never hears of it: exactly the reply lost in flight that the worker's Ledger.recover must sort out.
"""
import selectors
import socket
import threading

SCRIPT_CALLS = (b"$7\r\nEVALSHA\r\n", b"$4\r\nEVAL\r\n", b"$7\r\nevalsha\r\n", b"$4\r\neval\r\n")
JOB_REPLY = b"*5\r\n$3\r\njob\r\n"  # RESP2 array: kind, finished, queue, payload, claim sha1


class Link:
    """One client connection and its upstream twin."""

    def __init__(self, client, upstream):
        self.client = client
        self.upstream = upstream
        self.script_pending = False  # the client sent a script call; its reply is next
        self.held = b""              # the start of that reply, until we know what it is


class LosingProxy:
    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.armed = threading.Event()
        self.lost = threading.Event()
        self.lost_reply = None
        self.connections = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="losing-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def lose_next_job_reply(self):
        self.lost.clear()
        self.armed.set()

    def close(self):
        self._stopping = True
        self._thread.join(5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()

    # -- the thread -------------------------------------------------------------------------
    def _run(self):
        while not self._stopping:
            for key, _events in self.selector.select(0.05):
                if key.data is None:
                    self._accept()
                    continue
                link = key.data
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._cut(link)
                elif key.fileobj is link.client:
                    self._from_client(link, data)
                else:
                    self._from_redis(link, data)

    def _accept(self):
        client, _addr = self.listener.accept()
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        link = Link(client, upstream)
        self.connections += 1
        self.selector.register(client, selectors.EVENT_READ, link)
        self.selector.register(upstream, selectors.EVENT_READ, link)

    def _from_client(self, link, data):
        if self.armed.is_set() and any(call in data for call in SCRIPT_CALLS):
            link.script_pending = True
        self._send(link, link.upstream, data)

    def _from_redis(self, link, data):
        if link.script_pending:
            link.held += data
            if len(link.held) < len(JOB_REPLY) and JOB_REPLY.startswith(link.held):
                return  # too short to tell yet
            link.script_pending = False
            data, link.held = link.held, b""
            if data.startswith(JOB_REPLY) and self.armed.is_set():
                self.armed.clear()
                self.lost_reply = data
                self._cut(link)  # the reply goes nowhere: the client sees a dead connection
                self.lost.set()
                return
        self._send(link, link.client, data)

    def _send(self, link, sock, data):
        try:
            sock.sendall(data)
        except OSError:
            self._cut(link)

    def _cut(self, link):
        for sock in (link.client, link.upstream):
            try:
                self.selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class HoldingProxy(LosingProxy):
    """A LosingProxy that can also hold a request: armed with `hold_next_script()`, the next
    script call a client sends is kept from Redis (a partition), its connection stays open
    upstream when the client gives up on it, and `deliver()` sends it on late (the heal, or
    a load balancer's retransmission): Redis runs it then, and its reply goes nowhere."""

    def __init__(self, upstream_port):
        self.hold_armed = threading.Event()
        self.held = None        # (link, request bytes)
        self.late_reply = threading.Event()  # Redis answered the late request
        super().__init__(upstream_port)

    def hold_next_script(self):
        self.hold_armed.set()

    def deliver(self):
        link, data = self.held
        self.held = None
        link.upstream.sendall(data)

    def _from_client(self, link, data):
        if self.hold_armed.is_set() and any(call in data for call in SCRIPT_CALLS):
            self.hold_armed.clear()
            self.held = (link, data)
            return
        super()._from_client(link, data)

    def _cut(self, link):
        if self.held is not None and self.held[0] is link:
            # the client gave up: its end goes, the upstream end waits for deliver()
            try:
                self.selector.unregister(link.client)
            except (KeyError, ValueError):
                pass
            link.client.close()
            return
        super()._cut(link)

    def _from_redis(self, link, data):
        if link.client.fileno() < 0:
            self.late_reply.set()  # the late request's reply: nobody is there to read it
            return
        super()._from_redis(link, data)
