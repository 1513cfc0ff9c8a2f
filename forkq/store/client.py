"""The one Redis client recipe (the worker's store, the admin commands and forkq.enqueue all
make their clients here, from any URL address.py reads, Sentinel included), and the errors
that mean "not now" rather than "never"."""
import redis
from redis.backoff import NoBackoff
try:
    from redis._parsers.base import BaseParser
except ImportError:  # redis-py < 5
    from redis.connection import BaseParser
from redis.retry import Retry

from forkq.config import ConfigError
from forkq.store import address


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
# after a failover, or the sentinels name another master): reconnect rather than keep asking
# the replica on the same socket.
RECONNECT = _unavailable(("ReadOnlyError",))
# A master that refuses writes for want of replicas (min-replicas-to-write) may have been
# failed over: its replica promoted, so it has none. Ask again where the master is.
_NOREPLICAS = BaseParser.EXCEPTION_CLASSES.get("NOREPLICAS")
if isinstance(_NOREPLICAS, type):
    RECONNECT += (_NOREPLICAS,)


WORKER_REPLY_WAIT = 3.0  # seconds; a cycle takes milliseconds even with thousands of queues


def _options(purpose):
    if purpose == "worker":
        # bytes in and out (payloads may be invalid UTF-8), bounded waits so a cut connection
        # raises instead of hanging, keepalive for idle sockets, and no automatic retries:
        # redis-py (8.x) re-sends a command whose reply was lost, which would run a cycle
        # script twice. The worker's ledger sorts out a lost reply from its claim, and a late
        # request is fenced (cycle.lua), so giving up on a reply is safe: the wait is short, so
        # a stalled Redis holds the loop (and a TERM to an idle worker) for seconds at most.
        return dict(socket_timeout=WORKER_REPLY_WAIT, socket_connect_timeout=5,
                    socket_keepalive=True,
                    health_check_interval=0, retry=Retry(NoBackoff(), 0),
                    retry_on_timeout=False)
    if purpose == "admin":  # an operator's command: answer or fail within seconds
        return dict(socket_timeout=10, socket_connect_timeout=5)
    if purpose == "producer":  # the application's: redis-py's own defaults
        return {}
    raise ValueError("unknown client purpose %r" % purpose)


def connect(url, purpose="worker"):
    """A client for `url` made for `purpose` ("worker", "admin" or "producer"). Raises
    ConfigError for a URL forkq cannot use (never redis-py's bare ValueError)."""
    where = address.parse(url)
    options = _options(purpose)
    if where is None:
        try:
            return redis.Redis.from_url(url, **options)
        except ValueError as exc:
            raise ConfigError("Redis URL: %s" % exc) from None
    from redis.sentinel import Sentinel
    sentinel_options = dict(socket_timeout=2, socket_connect_timeout=2)
    if where.sentinel_password:
        sentinel_options["password"] = where.sentinel_password
    if where.sentinel_username:
        sentinel_options["username"] = where.sentinel_username
    sentinels = Sentinel(list(where.hosts), sentinel_kwargs=sentinel_options)
    if where.username:
        options["username"] = where.username
    if where.password:
        options["password"] = where.password
    if where.ssl:
        options["ssl"] = True
    return sentinels.master_for(where.master, redis_class=redis.Redis, db=where.db, **options)
