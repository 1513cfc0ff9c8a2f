"""Who this scheduler is in resque-scheduler's master lock, and who it was last tick.

The lock itself (acquire, renew, release) is one step of the tick script in forkq/store/lua;
this module holds the value it is taken with and the master/standby role it gives.
"""
import socket

from forkq.wire import scheduler as wire


def lock_hostname():
    """The host part of resque-scheduler's lock value: the name the host's first address
    resolves back to (Addrinfo.getaddrinfo(Socket.gethostname, 'http').first.getnameinfo),
    falling back to the plain host name as Ruby does. On many hosts this is "localhost"."""
    local = socket.gethostname()
    try:
        family, _type, _proto, _name, sockaddr = socket.getaddrinfo(local, "http")[0]
        return socket.getnameinfo(sockaddr, 0)[0]
    except (OSError, IndexError, UnicodeError):
        return local


class Role:
    """The role of the last tick and when it changed, for titles, logs and the registry."""

    def __init__(self, pid, hostname=None):
        self.value = wire.master_lock_value(hostname or lock_hostname(), pid)
        self.master = None       # unknown until the first tick
        self.holder = None       # the lock's value as last seen

    def update(self, master, holder):
        """Record a tick's answer; True when the role changed (or was first learned)."""
        changed = master != self.master
        self.master = master
        self.holder = holder
        return changed

    @property
    def name(self):
        return {True: "master", False: "standby", None: "starting"}[self.master]

    def describe(self):
        if self.master:
            return "master"
        if self.master is False:
            return "standby (master: %s)" % (self.holder or "none")
        return "starting"
