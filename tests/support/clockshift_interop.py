"""`-r clockshift_interop`: the worker's own clock runs a day ahead (time.time only), so a test
can tell values taken from Redis TIME (the heartbeat) from values taken from the host clock
(run_at, started)."""
import time

SHIFT = 86400.0
_real_time = time.time


def _shifted():
    return _real_time() + SHIFT


time.time = _shifted
