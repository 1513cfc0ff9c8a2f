"""Wakes an idle worker the moment a job is announced, so the poll interval is not the
latency: forkq's producers PUBLISH on a wake channel, and keyspace notifications (where the
server has them on) report a push by any producer."""
import time

import redis

from forkq.store.client import REDIS_DOWN


class Waker:
    """Wakes an idle worker the moment a job is announced, so a poll interval is not the
    latency. forkq's producers PUBLISH on the wake channel; where the server has keyspace
    notifications on for lists (notify-keyspace-events with K and l or A), a push by any
    producer (Ruby, node-resque, redis-cli) wakes it too. Without either, the poll still runs."""

    def __init__(self, store, plan, log):
        self.store = store
        self.plan = plan
        self.log = log
        self.pubsub = None
        self.retry_at = 0.0
        self.disabled = False
        self.queue_channel = store.keys.prefix + "queue:"

    def _connect(self):
        if self.disabled or time.monotonic() < self.retry_at:
            return
        pubsub = None
        try:
            pubsub = self.store.redis.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(self.store.keys.wake_channel())
            pattern = self._keyspace_pattern()
            if pattern:
                pubsub.psubscribe(pattern)
            self.pubsub = pubsub
        except REDIS_DOWN:
            self.retry_at = time.monotonic() + 5.0
        except redis.ResponseError as exc:
            self.pubsub = pubsub
            self._refused(exc)

    def _refused(self, exc):
        # An ACL user without channel permission (Redis 7's acl-pubsub-default is
        # resetchannels): SUBSCRIBE is refused, now or on the first read of its reply.
        self.close()
        self.disabled = True
        self.log.event("warning", "no wake-ups: Redis refused the subscription (%s); idle "
                                  "workers poll every interval instead" % exc)

    def _keyspace_pattern(self):
        try:
            flags = self.store.redis.config_get("notify-keyspace-events")
        except redis.ResponseError:  # CONFIG disabled or not allowed: publish-only wake-ups
            return None
        value = next(iter(flags.values()), b"")
        value = value.decode() if isinstance(value, bytes) else value
        if "K" not in value or not ("l" in value or "A" in value):
            return None
        db = self.store.redis.connection_pool.connection_kwargs.get("db", 0)
        return "__keyspace@%d__:%s*" % (db, self.queue_channel)

    def fds(self):
        if self.pubsub is None:
            self._connect()
        conn = self.pubsub.connection if self.pubsub is not None else None
        sock = getattr(conn, "_sock", None)
        return (sock,) if sock is not None else ()

    def pending(self):
        """True if a job for one of our queues was announced since the last call."""
        if self.pubsub is None:
            return False
        woken = False
        try:
            while True:
                message = self.pubsub.get_message(timeout=0.0)
                if message is None:
                    if not self.pubsub.connection.can_read(timeout=0):
                        break
                    continue
                woken = woken or self._for_us(message)
        except REDIS_DOWN:
            self.close()
            self.retry_at = 0.0
        except redis.ResponseError as exc:
            self._refused(exc)
        return woken

    def _for_us(self, message):
        if message.get("type") == "pmessage":
            channel = message["channel"].decode("utf-8", "replace")
            queue = channel.split(":", 1)[1][len(self.queue_channel):]
        else:
            queue = message["data"].decode("utf-8", "replace")
        names = self.plan.static_names()
        return names is None or queue in names

    def close(self):
        if self.pubsub is not None:
            try:
                self.pubsub.close()
            except Exception:
                pass
            self.pubsub = None
