"""A stand-in for a scheduler in the retry tests, until `forkq scheduler` moves delayed jobs:
every `interval` it moves the due items of resque-scheduler's delayed set (by Redis TIME) to
their queues as fresh {"class","args"}, with the effects contract §12 lists."""
import json
import threading


class Mover:
    def __init__(self, client, interval=0.1, namespace="resque"):
        self.client = client
        self.interval = interval
        self.ns = namespace + ":"
        self.stop_event = threading.Event()
        self.moved = []  # (epoch second due, Redis time moved, class)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_event.wait(self.interval):
            self.move_due()

    def move_due(self):
        r, ns = self.client, self.ns
        secs, micros = r.time()
        now = secs + micros / 1e6
        for stamp in r.zrangebyscore(ns + "delayed_queue_schedule", "-inf", int(now)):
            key = ns + "delayed:" + stamp.decode()
            while True:
                item = r.lpop(key)
                if item is None:
                    break
                r.srem(ns.encode() + b"timestamps:" + item, "delayed:" + stamp.decode())
                job = json.loads(item)
                r.sadd(ns + "queues", job["queue"])
                r.rpush(ns + "queue:" + job["queue"],
                        json.dumps({"class": job["class"], "args": job["args"]},
                                   separators=(",", ":"), ensure_ascii=False))
                r.publish(ns + "forkq:wake", job["queue"])
                self.moved.append((int(stamp), now, job["class"]))
            r.zrem(ns + "delayed_queue_schedule", stamp)

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)
