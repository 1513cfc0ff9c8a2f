"""Wakes an idle worker the moment a job is pushed, by any producer, so the poll interval is not
the latency.

Three ways, tried in this order on a connection of the waker's own; the start-up log line
("wake-ups: …") says which one is in use:

1. client tracking (Redis >= 6, no server configuration): `CLIENT TRACKING on REDIRECT <self>
   BCAST PREFIX <ns>:queue: PREFIX <ns>:queues` makes the server report every write to a queue
   key, whoever wrote it: Ruby's raw RPUSH, node-resque, redis-cli, `forkq failed retry`, the
   scheduler's moves. The connection speaks RESP2 and redirects the reports to itself, so they
   arrive as messages on `__redis__:invalidate` (the same bytes on every redis-py version);
   RESP3 push frames are parsed differently by each redis-py release. Tracking the `queues`
   set too lets a wildcard queue set see a brand-new queue.
2. keyspace events, where the operator turned them on for lists (notify-keyspace-events with K
   and l or A): the old way, for a server that refuses CLIENT TRACKING (before 6, or an ACL
   without the CLIENT command).
3. forkq's wake channel alone: forkq's producers PUBLISH on it after a push; others' pushes wait
   for the poll.
The wake channel is subscribed in every way. If Redis refuses even that (an ACL user without
channel permission), the worker only polls, and says so once.

A report is a hint, never a job: the loop answers it with a reserve, which finds a job or not.
The worker's own pops are reported too; that costs one empty reserve when it next goes idle.
"""
import time

import redis

from forkq.store.client import REDIS_DOWN

INVALIDATE = b"__redis__:invalidate"
SETUP_TIMEOUT = 5.0  # the subscribe replies are read at once: a silent server must not hang us
RETRY_AFTER = 5.0


class Waker:
    """The loop's view: fds() to wait on, pending() after a wait says whether a job for one of
    our queues was announced. Never raises: Redis trouble means no wake-ups until it is back."""

    def __init__(self, store, plan, log):
        self.store = store
        self.plan = plan
        self.log = log
        self.conn = None
        self.retry_at = 0.0
        self.disabled = False
        self.said = None
        keys = store.keys
        self.queue_prefix = keys.prefix + "queue:"
        self.queues_key = keys.queues.encode()
        self.wake_channel = keys.wake_channel()
        self.mode = None

    # -- connecting -------------------------------------------------------------------------
    def _connect(self):
        if self.disabled or time.monotonic() < self.retry_at:
            return
        refusals = []
        for attempt in (self._tracking, self._keyspace, self._channel_only):
            conn = None
            try:
                conn = self._new_connection()
                mode = attempt(conn)
            except REDIS_DOWN:
                _drop(conn)
                self.retry_at = time.monotonic() + RETRY_AFTER
                return
            except Exception as exc:  # refused (or unusable): the next way, on a new connection
                _drop(conn)
                refusals.append("%s refused: %s" % (attempt.__doc__, exc))
                continue
            if mode is None:  # this way does not apply here (keyspace events are off)
                _drop(conn)
                continue
            self.conn, self.mode = conn, mode
            self._say("wake-ups: " + mode + (" (%s)" % "; ".join(refusals) if refusals else ""))
            return
        # An ACL user without channel permission (Redis 7's acl-pubsub-default is
        # resetchannels): no subscription at all, so the poll interval is the latency.
        self.disabled = True
        self._say("no wake-ups: Redis refused the subscription (%s); idle workers poll every "
                  "interval instead" % "; ".join(refusals))

    def _say(self, line):
        if line != self.said:  # a reconnect in the same way is not news
            self.said = line
            self.log.event("startup", line)

    def _new_connection(self):
        """A connection like the client's (same host, auth, TLS, Sentinel master), but RESP2,
        a short read timeout, and outside the pool: a subscribed connection is no use to it."""
        pool = self.store.redis.connection_pool
        kwargs = dict(pool.connection_kwargs, socket_timeout=SETUP_TIMEOUT,
                      socket_connect_timeout=SETUP_TIMEOUT)
        for key in [k for k in kwargs if k.startswith("maint_notifications")]:
            del kwargs[key]  # redis-py 7+'s maintenance notifications need RESP3
        try:
            conn = pool.connection_class(**dict(kwargs, protocol=2))
        except TypeError:  # redis-py 4.x knows only RESP2 and has no protocol option
            conn = pool.connection_class(**kwargs)
        conn.connect()
        return conn

    def _tracking(self, conn):
        """CLIENT TRACKING"""
        client_id = _call(conn, "CLIENT", "ID")
        _call(conn, "CLIENT", "TRACKING", "on", "REDIRECT", client_id, "BCAST",
              "PREFIX", self.queue_prefix, "PREFIX", self.queues_key)
        _subscribe(conn, "SUBSCRIBE", INVALIDATE, self.wake_channel)
        return "client tracking (any write to %s* or %s wakes this worker)" % (
            self.queue_prefix, self.queues_key.decode())

    def _keyspace(self, conn):
        """keyspace events"""
        try:
            flags = self.store.redis.config_get("notify-keyspace-events")
        except redis.ResponseError:  # CONFIG disabled or not allowed: the wake channel only
            return None
        value = next(iter(flags.values()), b"")
        value = value.decode() if isinstance(value, bytes) else value
        if "K" not in value or not ("l" in value or "A" in value):
            return None
        db = self.store.redis.connection_pool.connection_kwargs.get("db", 0)
        _subscribe(conn, "SUBSCRIBE", self.wake_channel)
        _subscribe(conn, "PSUBSCRIBE", "__keyspace@%d__:%s*" % (db, self.queue_prefix))
        return "keyspace events (notify-keyspace-events %s)" % value

    def _channel_only(self, conn):
        """SUBSCRIBE"""
        _subscribe(conn, "SUBSCRIBE", self.wake_channel)
        return ("forkq's wake channel only: pushes by other producers wait for the poll "
                "(neither client tracking nor keyspace events)")

    # -- the loop's interface ---------------------------------------------------------------
    def fds(self):
        if self.conn is None:
            self._connect()
        sock = getattr(self.conn, "_sock", None) if self.conn is not None else None
        return (sock,) if sock is not None else ()

    def pending(self):
        """True if a job for one of our queues was announced since the last call."""
        if self.conn is None:
            return False
        woken = False
        try:
            while self.conn.can_read(timeout=0):
                woken = self._for_us(self.conn.read_response()) or woken
        except REDIS_DOWN:
            self.close()
            self.retry_at = 0.0  # reconnect at the next fds(); the poll covers the gap
        except redis.ResponseError as exc:
            self.close()
            self.log.event("warning", "wake-ups stopped: %s; reconnecting" % exc)
            self.retry_at = time.monotonic() + RETRY_AFTER
        return woken

    def _for_us(self, message):
        if not isinstance(message, list) or len(message) < 3:
            return False
        kind = message[0]
        if kind == b"message" and message[1] == INVALIDATE:
            keys = message[2] or ()  # None: the whole keyspace was flushed (no job in that)
            return any(self._key_for_us(key) for key in keys)
        if kind == b"message":
            return self._queue_for_us(message[2].decode("utf-8", "replace"))
        if kind == b"pmessage" and len(message) == 4:
            channel = message[2].decode("utf-8", "replace")
            return self._queue_for_us(channel.split(":", 1)[1][len(self.queue_prefix):])
        return False  # subscribe confirmations

    def _key_for_us(self, key):
        if key == self.queues_key:  # a queue added: only a wildcard set can gain from it
            return self.plan.static_names() is None
        key = key.decode("utf-8", "replace")
        return key.startswith(self.queue_prefix) and \
            self._queue_for_us(key[len(self.queue_prefix):])

    def _queue_for_us(self, queue):
        names = self.plan.static_names()
        return names is None or queue in names

    def close(self):
        _drop(self.conn)
        self.conn = None


def _call(conn, *args):
    conn.send_command(*args)
    return conn.read_response()  # an error reply raises redis.ResponseError


def _subscribe(conn, command, *channels):
    conn.send_command(command, *channels)
    for _ in channels:  # one confirmation per channel; a refusal is one error for them all
        conn.read_response()


def _drop(conn):
    if conn is not None:
        try:
            conn.disconnect()
        except Exception:
            pass
