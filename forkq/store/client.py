"""The one Redis client recipe, and the errors that mean "not now" rather than "never"."""
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def _unavailable(names):
    # redis>=4.5 is allowed and not every release defines every class: take those it has
    return tuple(getattr(redis.exceptions, name) for name in names
                 if hasattr(redis.exceptions, name))


# Redis cannot serve us now, but will (or another node will): back off and retry. Besides the
# connection going away or the dataset loading: a failover (the node we talk to became a
# replica: READONLY; a replica whose master is gone: MASTERDOWN), maxmemory reached (OOM
# refuses writes until memory is freed) and a cluster in the middle of changing (TRYAGAIN,
# CLUSTERDOWN). These are error replies, so without this they would end the worker.
REDIS_DOWN = _unavailable(("ConnectionError", "TimeoutError", "BusyLoadingError",
                           "ReadOnlyError", "OutOfMemoryError", "MasterDownError",
                           "TryAgainError", "ClusterDownError"))


# Every reply that means "not now": the loop waits these out.
NOT_NOW = REDIS_DOWN


# A node that answers READONLY was demoted; the primary is now elsewhere (a DNS name moved
# after a failover): reconnect rather than keep asking the replica on the same socket.
RECONNECT = _unavailable(("ReadOnlyError",))


def connect(url):
    """A client for the worker: bytes in and out (payloads may be invalid UTF-8), bounded
    waits so a cut connection raises instead of hanging, keepalive for idle sockets, and no
    automatic retries: redis-py (8.x) re-sends a command whose reply was lost, which would
    run a cycle script twice. Worker.recover sorts out a lost reply from our claim instead."""
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5,
                                socket_keepalive=True, health_check_interval=0,
                                retry=Retry(NoBackoff(), 0), retry_on_timeout=False)
