"""Where Redis is, read from a URL without importing redis-py (config checks it at start-up,
before the fork server forks): redis://, rediss:// and unix:// go to redis-py as they are;
a Sentinel set is named by

    redis+sentinel://[[user]:password@]host:port[,host:port...]/master[/db]
    rediss+sentinel://...           (TLS to the master)

and the master's address is asked of the sentinels on every (re)connection, so clients follow
a failover. The password is the master's (ACL user too); the sentinels are asked without
one unless ?sentinel_password= (or ?sentinel_username=) is given."""
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from forkq.config import ConfigError

PLAIN_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
_SENTINEL_OPTIONS = ("sentinel_password", "sentinel_username")


class SentinelAddress(NamedTuple):
    hosts: tuple          # ((host, port), ...)
    master: str           # the service name the sentinels monitor
    db: int
    username: str
    password: str
    ssl: bool
    sentinel_username: str
    sentinel_password: str


def _bad(url, why):
    # the URL may hold a password: say what is wrong, never echo it
    scheme = url.split("://", 1)[0] if "://" in url else "?"
    return ConfigError("Redis URL (%s://…): %s" % (scheme, why))


def parse(url):
    """None for a URL redis-py reads itself; a SentinelAddress for a Sentinel set. Raises
    ConfigError for anything else."""
    if not isinstance(url, str) or "://" not in url:
        raise _bad(str(url), "expected redis://, rediss://, unix:// or redis+sentinel://")
    scheme = url.split("://", 1)[0].lower()
    if scheme in PLAIN_SCHEMES:
        return None
    if scheme not in SENTINEL_SCHEMES:
        raise _bad(url, "unknown scheme %r: use redis://, rediss://, unix:// or "
                   "redis+sentinel://host:port[,host:port...]/master[/db]" % scheme)
    rest = url.split("://", 1)[1]
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    user = password = ""
    if "@" in netloc:
        cred, netloc = netloc.rsplit("@", 1)
        user, _, password = cred.partition(":")
        user, password = unquote(user), unquote(password)
    hosts = []
    for item in netloc.split(","):
        host, sep, port = item.strip().rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise _bad(url, "each sentinel must be host:port (got %r)" % item)
        hosts.append((host, int(port)))
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise _bad(url, "the master's name is missing: redis+sentinel://host:port/master")
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise _bad(url, "expected /master or /master/db after the sentinels")
    options = parse_qs(query, keep_blank_values=True) if query else {}
    unknown = sorted(set(options) - set(_SENTINEL_OPTIONS))
    if unknown:
        raise _bad(url, "unknown option(s) %s (known: %s)" % (", ".join(unknown),
                                                              ", ".join(_SENTINEL_OPTIONS)))
    return SentinelAddress(tuple(hosts), unquote(parts[0]),
                           int(parts[1]) if len(parts) == 2 else 0, user, password,
                           scheme == "rediss+sentinel",
                           options.get("sentinel_username", [""])[-1],
                           options.get("sentinel_password", [""])[-1])


def check(url):
    """Raise ConfigError unless `url` names Redis in a way forkq can use."""
    parse(url)
    if url.split("://", 1)[0].lower() in PLAIN_SCHEMES:
        try:
            urlsplit(url).port  # noqa: B018 - a bad port raises here, not deep in redis-py
        except ValueError as exc:
            raise _bad(url, str(exc)) from None
