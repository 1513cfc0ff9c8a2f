"""The physical reference: the least a redis-py forking worker can do per job.

One Lua script pops a job and writes the claim (worker:<id>) in one step, so, as in forkq, a job
is never popped without a record; the parent forks a child that exits at once, reaps it with
wait4 (its exact peak RSS comes with it), then writes done_working in one pipeline (DEL claim,
INCRBY stat:processed, INCRBY stat:processed:<id>). That is 2 round trips and 6 Redis commands
a job (EVALSHA + LPOP + SET, DEL + 2 INCRBY). `--no-fork` is the same loop without the fork: the
Redis-only ceiling. At exit it prints one JSON line: the children's median peak RSS.

    python bench/floor.py URL [--no-fork] [--queue bench] [--app]
"""
import argparse
import gc
import json
import os
import statistics

import redis

RESERVE = """
local job = redis.call('LPOP', KEYS[1])
if job then redis.call('SET', KEYS[2], job) end
return job
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--no-fork", action="store_true")
    parser.add_argument("--queue", default="bench")
    parser.add_argument("--app", action="store_true", help="preload bigapp (~100 MB) first")
    args = parser.parse_args()
    if args.app:
        import bigapp  # noqa: F401  (fork cost follows the size of the process that forks)
    r = redis.Redis.from_url(args.url)
    reserve = r.register_script(RESERVE)
    wid = "floor:%d:%s" % (os.getpid(), args.queue)
    claim = "resque:worker:" + wid
    queue = "resque:queue:" + args.queue
    maxrss = []
    gc.freeze()  # as a preforking server would: the collector never touches shared pages
    while True:
        job = reserve(keys=[queue, claim])
        if job is None:
            break
        if not args.no_fork:
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            _pid, _status, usage = os.wait4(pid, 0)
            maxrss.append(usage.ru_maxrss)  # KiB on Linux
        pipe = r.pipeline(transaction=False)
        pipe.delete(claim)
        pipe.incrby("resque:stat:processed", 1)
        pipe.incrby("resque:stat:processed:" + wid, 1)
        pipe.execute()
    print(json.dumps({"children": len(maxrss),
                      "child_maxrss_kb": statistics.median(maxrss) if maxrss else None}))


if __name__ == "__main__":
    main()
