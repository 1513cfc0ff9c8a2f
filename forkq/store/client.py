"""The one Redis client recipe, and the errors that mean "not now" rather than "never"."""
import redis
from redis.backoff import NoBackoff
try:
    from redis._parsers.base import BaseParser
except ImportError:  # redis-py < 5
    from redis.connection import BaseParser
from redis.retry import Retry


class NotNowError(redis.ResponseError):
    """An error reply that means "not now" and has no class of redis-py's: BUSY (another
    client's script or function runs past busy-reply-threshold), MISCONF (the server cannot
    persist and refuses writes), NOREPLICAS (min-replicas-to-write not met)."""


def _not_now(code):
    # redis-py strips the code from the message of a class it maps: put it back, so the
    # error reads as Redis said it (for us and for any other client in the process)
    return type("NotNow" + code.title(), (NotNowError,),
                {"__init__": lambda self, *args, **kwargs: NotNowError.__init__(
                    self, " ".join((code,) + tuple(str(a) for a in args)), **kwargs)})


# Every parser redis-py has (RESP2, RESP3, hiredis) reads this table of its base class; no
# parser of our own, since redis-py 8 ties features to its own parser classes.
for _code in ("BUSY", "MISCONF", "NOREPLICAS"):
    BaseParser.EXCEPTION_CLASSES.setdefault(_code, _not_now(_code))


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


# Every reply that means "not now": the loop waits these out. (NOSCRIPT is not one: redis-py's
# Script loads the script again and retries.)
NOT_NOW = REDIS_DOWN = REDIS_DOWN + (NotNowError,)


# A node that answers READONLY was demoted; the primary is now elsewhere (a DNS name moved
# after a failover): reconnect rather than keep asking the replica on the same socket.
RECONNECT = _unavailable(("ReadOnlyError",))


def connect(url):
    """A client for the worker: bytes in and out (payloads may be invalid UTF-8), bounded
    waits so a cut connection raises instead of hanging, keepalive for idle sockets, and no
    automatic retries: redis-py (8.x) re-sends a command whose reply was lost, which would
    run a cycle script twice. The worker's ledger sorts out a lost reply from its claim."""
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5,
                                socket_keepalive=True, health_check_interval=0,
                                retry=Retry(NoBackoff(), 0), retry_on_timeout=False)
