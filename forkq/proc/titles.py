"""Process titles in Resque's shape, `resque-<version>: <what>`: a starting Ruby worker on
this host greps `ps` for `[r]esque-[0-9]` and prunes registered workers it does not find.

Queue and class names come from Redis and payloads: any bytes at all. A title is a C string
the kernel shows to `ps`, so a NUL, a lone surrogate (a name that was not UTF-8) or a control
character would make setproctitle raise or scramble the line; they are shown escaped instead,
and a title that still cannot be set never ends the worker (a title is only a courtesy)."""
import importlib.machinery
import importlib.util
import os
import re
import sys

from forkq import __version__
from forkq.wire import RESQUE_VERSION

# C0 and C1 controls (NUL among them), DEL, surrogates, and the Unicode line and paragraph
# separators that would break `ps` output into lines
_ODD = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def shown(text):
    """`text` with every character a title cannot carry as itself written as an escape."""
    if not isinstance(text, str):
        text = str(text)
    if text.isprintable():  # no control, separator or surrogate: the common case, no regex
        return text
    return _ODD.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100
                    else "\\u%04x" % ord(m.group()), text)


def _load_setproctitle():
    """setproctitle's C function, loaded without its package's __init__, which imports
    logging and with it threading: threading's at-fork handler runs Python in every forked
    child (measured: +140 page faults, +0.35 ms of CPU a child). A later `import
    setproctitle` finds this module in sys.modules and uses it."""
    name = "setproctitle._setproctitle"
    module = sys.modules.get(name)
    if module is None:
        try:
            package = importlib.util.find_spec("setproctitle")
            where = os.path.dirname(package.origin)
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = os.path.join(where, "_setproctitle" + suffix)
                if os.path.exists(path):
                    loader = importlib.machinery.ExtensionFileLoader(name, path)
                    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
                    module = importlib.util.module_from_spec(spec)
                    loader.exec_module(module)
                    sys.modules[name] = module
                    break
        except (ImportError, AttributeError, TypeError, OSError):
            module = None
    if module is None:  # not built as an extension here: the package's own fallback
        from setproctitle import setproctitle
        return setproctitle
    return module.setproctitle


setproctitle = _load_setproctitle()


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
