"""A job module that imports nothing but forkq, so its job can tell which heavy modules the
process that forked it carried (the fork server must not carry redis-py or psutil)."""
import json
import os
import sys

import forkq


@forkq.job(name="Lean::Modules")
def modules(path):
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("redis", "psutil", "asyncio"))
    with open(path + ".tmp", "w") as fh:
        json.dump(heavy, fh)
    os.rename(path + ".tmp", path)
