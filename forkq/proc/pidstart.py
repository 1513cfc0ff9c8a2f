"""Which process a pid is, without any clock: the kernel's start time of a process in clock
ticks since boot (/proc/PID/stat, field 22) and the boot's id. Recorded when a worker
registers, it tells a live worker from a later process that reused its pid, whatever the wall
clock said at start-up or has been stepped to since (NTP, a VM resumed, an operator)."""

_BOOT_ID = "/proc/sys/kernel/random/boot_id"


def _boot_id():
    try:
        with open(_BOOT_ID) as fh:
            return fh.read().strip()
    except OSError:
        return None


def _stat(pid):
    """(state letter, start ticks) of `pid`, or None if no such process (or no /proc)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as fh:
            text = fh.read()
    except (OSError, ValueError):
        return None
    fields = text[text.rfind(b")") + 2:].split()  # the name may hold spaces and parentheses
    try:
        return fields[0].decode("ascii", "replace"), int(fields[19])
    except (IndexError, ValueError):
        return None


def stamp(pid):
    """"<boot id> <start ticks>" of a running `pid`; "" where the system does not tell."""
    boot, stat = _boot_id(), _stat(pid)
    if not boot or stat is None:
        return ""
    return "%s %d" % (boot, stat[1])


def same_process(pid, recorded):
    """True if `pid` is (still) the process whose stamp was `recorded`; False if that process
    is gone (no such pid, a zombie, another boot, or a later process with the same pid); None
    when this system cannot tell (no /proc, a stamp of another shape)."""
    parts = (recorded or "").split()
    boot = _boot_id()
    if len(parts) != 2 or not parts[1].isdigit() or not boot:
        return None
    if parts[0] != boot:
        return False  # registered before this boot: that process cannot run now
    stat = _stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    return stat[1] == int(parts[1])
