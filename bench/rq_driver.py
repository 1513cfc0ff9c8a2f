"""Runs inside the benchmark's venv (rq is not installed beside forkq): fill an rq queue with
no-op jobs, or measure rq's idle → start latency against an rq worker already waiting.

    python rq_driver.py fill URL N [QUEUE,QUEUE...]  # N jobs, dealt round-robin over the queues
    python rq_driver.py latency URL N LOW HIGH  # prints a JSON list of N latencies in seconds;
                                                # pushes LOW-HIGH s after the last job started
"""
import json
import random
import sys
import time

import redis
from rq import Queue


def main():
    cmd, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    conn = redis.Redis.from_url(url)
    if cmd == "fill":
        names = sys.argv[4].split(",") if len(sys.argv) > 4 else ["bench"]
        queues = [Queue(name, connection=conn) for name in names]
        with conn.pipeline() as pipe:  # rq's own enqueue, batched: the fill is not measured
            for i in range(n):
                queues[i % len(queues)].enqueue("jobs_rq.noop", i, pipeline=pipe)
            pipe.execute()
    elif cmd == "latency":
        low, high = float(sys.argv[4]), float(sys.argv[5])
        queue = Queue("lat", connection=conn)
        samples = []
        for i in range(n + 1):  # the first one warms the worker up and is not kept
            time.sleep(random.uniform(low, high))  # pushes at no fixed phase to the worker
            began = time.time()
            queue.enqueue("jobs_rq.stamp", "stamps")
            _key, value = conn.blpop(["stamps"], timeout=30)
            if i:
                samples.append(float(value) - began)
        print(json.dumps(samples))


if __name__ == "__main__":
    main()
