"""No-op and probe jobs for rq in the benchmark (imported by rq's worker from the venv)."""
import os
import time

import redis

_client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


def noop(*args):
    pass


def stamp(key):
    started = time.time()
    _client.rpush(key, repr(started))
