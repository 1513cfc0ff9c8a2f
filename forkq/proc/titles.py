"""Process titles in Resque's shape, `resque-<version>: <what>`: a starting Ruby worker on
this host greps `ps` for `[r]esque-[0-9]` and prunes registered workers it does not find.

Queue and class names come from Redis and payloads: any bytes at all. A title is a C string
the kernel shows to `ps`, so a NUL, a lone surrogate (a name that was not UTF-8) or a control
character would make setproctitle raise or scramble the line; they are shown escaped instead,
and a title that still cannot be set never ends the worker (a title is only a courtesy)."""
import re

from setproctitle import setproctitle

from forkq import __version__
from forkq.wire import RESQUE_VERSION

# C0 and C1 controls (NUL among them), DEL, surrogates, and the Unicode line and paragraph
# separators that would break `ps` output into lines
_ODD = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def shown(text):
    """`text` with every character a title cannot carry as itself written as an escape."""
    if not isinstance(text, str):
        text = str(text)
    return _ODD.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100
                    else "\\u%04x" % ord(m.group()), text)


class Titles:
    def __init__(self, prefix=""):
        self.head = "%sresque-%s-forkq-%s: " % (shown(prefix or ""), RESQUE_VERSION,
                                                __version__)

    def set(self, text):
        try:
            setproctitle(self.head + shown(text))
        except Exception:  # noqa: BLE001 - nothing shown is worth a worker
            pass

    def starting(self):
        self.set("Starting")

    def waiting(self, queues):
        self.set("Waiting for " + ",".join(shown(q) for q in queues))

    def paused(self):
        self.set("Paused")

    def processing(self, queue, since, class_name):
        self.set("Processing %s since %d [%s]" % (shown(queue), since,
                                                  shown(class_name or "No Name")))

    def forked(self, pid, at):
        if pid is None:  # the fork server has not forked it yet; it says when (its notice)
            return
        self.set("Forked %d at %d" % (pid, at))

    def stopping(self, why):
        self.set("Stopping (%s)" % why)
