"""The idle → start probe: records when the job started. Imports redis-py up front, as an app
that talks to Redis would, so the child does not pay for the import."""
import os
import time

import redis

import forkq

_client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


@forkq.job(name="Stamp")
def stamp(key):
    started = time.time()
    _client.rpush(key, repr(started))
