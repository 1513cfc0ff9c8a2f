"""The Linux process controls the fork path relies on (prctl), quiet no-ops elsewhere."""
import ctypes
import signal

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36

try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: callers also check their parent by getppid()
    _prctl = None


def die_with_parent(sig=signal.SIGKILL):
    """Have the kernel send `sig` to this process when its parent dies."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def become_subreaper():
    """Orphaned descendants come back to this process instead of init, so it can end them
    (a grandchild that left the job's process group or session included). True if it took."""
    return _prctl is not None and _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
