"""The physical reference: the least a redis-py forking worker can do per job. A Lua script
pops a job and writes its claim in one step, the parent forks a child that exits at once,
waits for it, and writes done_working in one pipeline. `--no-fork` is the Redis-only ceiling.

    python bench/floor.py URL [--no-fork]
"""
import gc
import os
import sys

import redis

RESERVE = """
local job = redis.call('LPOP', KEYS[1])
if job then redis.call('SET', KEYS[2], job) end
return job
"""


def main():
    url = sys.argv[1]
    fork = "--no-fork" not in sys.argv
    r = redis.Redis.from_url(url)
    reserve = r.register_script(RESERVE)
    claim = "resque:worker:floor:%d:bench" % os.getpid()
    gc.freeze()
    while True:
        job = reserve(keys=["resque:queue:bench", claim])
        if job is None:
            break
        if fork:
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        pipe = r.pipeline(transaction=False)
        pipe.delete(claim)
        pipe.incrby("resque:stat:processed", 1)
        pipe.incrby("resque:stat:processed:floor", 1)
        pipe.execute()


if __name__ == "__main__":
    main()
