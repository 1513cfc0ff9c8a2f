"""Resque's key names and worker ids (contract §2, §4.1), under one namespace."""


RESQUE_VERSION = "3.0.0"


class Keys:
    """Every Redis key forkq reads or writes, under one namespace (logical names of §2)."""

    def __init__(self, namespace="resque"):
        self.prefix = namespace + ":" if namespace else ""
        p = self.prefix
        self.queues = p + "queues"
        self.workers = p + "workers"
        self.heartbeat = p + "workers:heartbeat"
        self.failed = p + "failed"
        self.processed = p + "stat:processed"
        self.failed_count = p + "stat:failed"
        self.prune_lock = p + "pruning_dead_workers_in_progress"
        self.pause_all = p + "pause-all-workers"
        self.delayed_schedule = p + "delayed_queue_schedule"

    def queue(self, name):
        return self.prefix + "queue:" + name

    def worker(self, worker_id):
        return self.prefix + "worker:" + worker_id

    def started(self, worker_id):
        return self.prefix + "worker:" + worker_id + ":started"

    def pidstart(self, worker_id):
        # forkq's own (Ruby and node-resque neither write nor read it): the kernel's start
        # stamp of the worker's process (proc/pidstart.py), for same-host liveness
        return self.prefix + "forkq:pidstart:" + worker_id

    def pruned(self, claim_sha):
        # forkq's own: the failed entry a prune wrote for the claim with this sha1, kept so
        # the worker that held it, if alive after all, can put its true record in its place
        return self.prefix + "forkq:pruned:" + claim_sha

    def processed_by(self, worker_id):
        return self.prefix + "stat:processed:" + worker_id

    def failed_by(self, worker_id):
        return self.prefix + "stat:failed:" + worker_id

    def delayed(self, timestamp):
        return self.prefix + "delayed:" + str(int(timestamp))

    def key(self, name):
        """Any key named as resque-web's Stats tab names it: without the namespace."""
        return self.prefix + name

    def all_pattern(self):
        """A SCAN pattern for every key of the namespace (glob characters in it escaped)."""
        return "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix) + "*"

    def wake_channel(self):
        # Not a key: a pub/sub channel forkq producers publish on so idle workers start at once.
        return self.prefix + "forkq:wake"

    def worker_keys(self, worker_id):
        """The keys Ruby's unregister_worker deletes (plus the set member and heartbeat field)."""
        return (self.worker(worker_id), self.started(worker_id),
                self.processed_by(worker_id), self.failed_by(worker_id))


def worker_id(hostname, pid, queues):
    """host:pid:queues as configured, exclusions left out (§4.1)."""
    shown = [q for q in queues if not q.startswith("!")]
    return "%s:%d:%s" % (hostname, pid, ",".join(shown))


def parse_worker_id(wid):
    """(host, pid, [queues]) the way resque-web reads an id: split without a limit."""
    parts = wid.split(":")
    host = parts[0]
    pid = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    queues = parts[2].split(",") if len(parts) > 2 and parts[2] else []
    return host, pid, queues
