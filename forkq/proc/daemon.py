"""--background and --pidfile, for init systems that want them."""
import contextlib
import os
import sys


def daemonize():
    """Detach: double fork, new session, stdio to /dev/null (Resque's BACKGROUND)."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    sys.stdout.flush()
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


@contextlib.contextmanager
def pidfile(path):
    """Write our pid (no newline, as Resque) and remove the file on the way out if it is
    still ours."""
    if not path:
        yield
        return
    pid = str(os.getpid())
    with open(path, "w") as fh:
        fh.write(pid)
    try:
        yield
    finally:
        try:
            with open(path) as fh:
                if fh.read().strip() == pid:
                    os.unlink(path)
        except OSError:
            pass
