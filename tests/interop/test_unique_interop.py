"""Unique jobs across implementations: node-resque's QueueLock plugin and forkq's
unique="until_executing" hold the same lock, so a job one enqueued is refused by the other
(the key spells its args as JavaScript's JSON.stringify does: 1.0 is 1)."""
import jobs_retry  # noqa: F401  (registers the jobs here too: their queues and options)
import redis
from interop.test_node_interop import node_resque_installed, peer, pytestmark  # noqa: F401

from forkq.api.enqueue import Producer


def node_enqueue(redis_server, *args):
    return peer(redis_server, {"cmd": "enqueueLocked", "queue": "uniq",
                               "class": "UntilExecuting", "args": list(args)})["enqueued"]


def test_node_queuelock_and_forkq_share_the_lock(r, redis_server, url):
    client = redis.Redis.from_url(url)
    producer = Producer(client, "resque")
    try:
        assert node_enqueue(redis_server, "n", {"x": [1.5]}) is True
        assert producer.enqueue("UntilExecuting", "n", {"x": [1.5]}) is False
        assert producer.enqueue("UntilExecuting", "f", 2.0) is True
        assert node_enqueue(redis_server, "f", 2.0) is False
        assert sorted(k.decode() for k in r.keys("resque:lock:*")) == [
            'resque:lock:UntilExecuting:uniq:["f",2]',
            'resque:lock:UntilExecuting:uniq:["n",{"x":[1.5]}]']
        assert r.llen("resque:queue:uniq") == 2
    finally:
        client.close()
