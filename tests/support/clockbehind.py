"""`-r clockbehind`: the worker's own clock runs 3 s behind (time.time only), as on a host
whose clock was a little off when the worker started (issue 12 case 4)."""
import time

SHIFT = -3.0
_real_time = time.time


def _shifted():
    return _real_time() + SHIFT


time.time = _shifted
