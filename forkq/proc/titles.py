"""Process titles in Resque's shape, `resque-<version>: <what>`: a starting Ruby worker on
this host greps `ps` for `[r]esque-[0-9]` and prunes registered workers it does not find."""
from setproctitle import setproctitle

from forkq import __version__
from forkq.wire import RESQUE_VERSION


class Titles:
    def __init__(self, prefix=""):
        self.head = "%sresque-%s-forkq-%s: " % (prefix, RESQUE_VERSION, __version__)

    def set(self, text):
        setproctitle(self.head + text)

    def starting(self):
        self.set("Starting")

    def waiting(self, queues):
        self.set("Waiting for " + ",".join(queues))

    def paused(self):
        self.set("Paused")

    def processing(self, queue, since, class_name):
        self.set("Processing %s since %d [%s]" % (queue, since, class_name or "No Name"))

    def forked(self, pid, at):
        if pid is None:  # the fork server has not forked it yet; it says when (its notice)
            return
        self.set("Forked %d at %d" % (pid, at))

    def stopping(self, why):
        self.set("Stopping (%s)" % why)
