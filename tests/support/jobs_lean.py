"""A job module that imports nothing but forkq, so its job can tell which heavy modules the
process that forked it carried (the fork server must not carry redis-py or psutil, nor a
module whose at-fork handler runs in every child: threading, which click and logging bring,
or random)."""
import json
import os
import sys

import forkq


@forkq.job(name="Lean::Modules")
def modules(path):
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in (
        "redis", "psutil", "asyncio", "click", "threading", "logging", "random"))
    with open(path + ".tmp", "w") as fh:
        json.dump(heavy, fh)
    os.rename(path + ".tmp", path)
