"""`-r clockskew`: this process's wall clock (time.time) is off by FORKQ_TEST_CLOCK_SHIFT
seconds (e.g. 3600 or -3600), as on a host with a skewed clock; the monotonic clock and Redis
are untouched. A scheduler that trusted time.time would move jobs early (ahead) or late."""
import os
import time

SHIFT = float(os.environ.get("FORKQ_TEST_CLOCK_SHIFT", "0"))
_real_time = time.time


def _shifted():
    return _real_time() + SHIFT


time.time = _shifted
