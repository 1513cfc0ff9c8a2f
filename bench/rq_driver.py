"""Run inside the benchmark's venv: fill an rq queue, or measure rq's idle → start latency."""
import json
import sys
import time

import redis
from rq import Queue


def main():
    cmd, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    conn = redis.Redis.from_url(url)
    queue = Queue("bench", connection=conn)
    if cmd == "fill":
        with conn.pipeline() as pipe:
            for i in range(n):
                queue.enqueue("jobs_rq.noop", i, pipeline=pipe)
            pipe.execute()
    elif cmd == "latency":
        samples = []
        for i in range(n):
            t = time.time()
            queue.enqueue("jobs_rq.stamp", "stamps")
            _key, value = conn.blpop(["stamps"], timeout=30)
            samples.append(float(value) - t)
            time.sleep(0.05)
        print(json.dumps(samples))


if __name__ == "__main__":
    main()
