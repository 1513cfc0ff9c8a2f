"""/metrics and `forkq metrics`: what is in Redis now, in Prometheus's text format.

A custom collector reads Redis at scrape time (through the operator's data layer) and
prometheus_client writes the exposition format: nothing is counted in this process, so any
number of dashboards or a restart changes nothing. When Redis cannot be reached, the scrape
still answers, with forkq_up 0."""
import time

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class ForkqCollector:
    def __init__(self, admin):
        self.admin = admin
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def exposition(self):
        """(body, status, headers) for a WSGI response."""
        return generate_latest(self.registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}

    def describe(self):
        return []  # read at scrape time; nothing to check at registration

    def collect(self):
        began = time.monotonic()
        up = GaugeMetricFamily("forkq_up", "1 when Redis answered this scrape, else 0")
        try:
            families = list(self._read())
        except (redis.ConnectionError, redis.TimeoutError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families
        took = GaugeMetricFamily("forkq_scrape_duration_seconds",
                                 "How long reading Redis for this scrape took")
        took.add_metric([], time.monotonic() - began)
        yield took

    def _read(self):
        admin = self.admin
        now = admin.now()
        queues = admin.queues()
        depth = GaugeMetricFamily("forkq_queue_jobs", "Jobs waiting in the queue (LLEN)",
                                  labels=["queue"])
        for name, size in queues:
            depth.add_metric([name], size)
        yield depth
        oldest = GaugeMetricFamily(
            "forkq_queue_oldest_job_age_seconds",
            "Age of the job at the head of the queue, where its payload says when it was "
            "enqueued (Resque's own payloads do not)", labels=["queue"])
        for name, enqueued in admin.queue_heads_enqueued_at([n for n, s in queues if s]):
            oldest.add_metric([name], max(0.0, now - enqueued))
        yield oldest

        workers = admin.workers()
        states = GaugeMetricFamily("forkq_workers", "Registered workers by state",
                                   labels=["state"])
        for state in ("working", "idle"):
            states.add_metric([state], sum(1 for w in workers if w["state"] == state))
        yield states
        processed = CounterMetricFamily("forkq_worker_processed",
                                        "Jobs the worker finished (stat:processed:<id>)",
                                        labels=["worker"])
        failed = CounterMetricFamily("forkq_worker_failed",
                                     "Jobs of the worker that failed (stat:failed:<id>)",
                                     labels=["worker"])
        beat = GaugeMetricFamily("forkq_worker_heartbeat_age_seconds",
                                 "Seconds since the worker's last heartbeat", labels=["worker"])
        for w in workers:
            processed.add_metric([w["id"]], w["processed"])
            failed.add_metric([w["id"]], w["failed"])
            if w["heartbeat_age"] is not None:
                beat.add_metric([w["id"]], w["heartbeat_age"])
        yield processed
        yield failed
        yield beat

        stats = admin.stats(queues, workers)
        yield _counter("forkq_processed", "Jobs finished, Resque's stat:processed",
                       stats["processed"])
        yield _counter("forkq_failed", "Jobs failed, Resque's stat:failed",
                       stats["failed_counter"])
        yield _gauge("forkq_failed_jobs", "Entries in the failed list (LLEN failed, the number "
                                          "resque-web shows)", stats["failed"])
        scheduled = admin.delayed_due(now)
        yield _gauge("forkq_delayed_jobs", "Delayed jobs waiting (resque-scheduler's "
                                           "delayed:<ts> lists)", stats.get("delayed", 0))
        yield _gauge("forkq_delayed_due_jobs", "Delayed jobs whose time has come and that no "
                                               "scheduler has enqueued yet", scheduled["due"])
        yield _gauge("forkq_scheduler_lag_seconds", "How long the oldest due delayed job has "
                                                    "waited past its time (0: none due)",
                     scheduled["lag"])
        yield _gauge("forkq_schedules", "Recurring schedules (resque-scheduler's "
                                        "persistent_schedules)", stats.get("scheduled", 0))
        master = GaugeMetricFamily("forkq_scheduler_master",
                                   "1 for the scheduler holding the master lock",
                                   labels=["holder"])
        holder = admin.scheduler_master()
        if holder is not None:
            master.add_metric([holder], 1)
        yield master


def _gauge(name, doc, value):
    family = GaugeMetricFamily(name, doc)
    family.add_metric([], value)
    return family


def _counter(name, doc, value):
    family = CounterMetricFamily(name, doc)
    family.add_metric([], value)
    return family


def text(admin):
    """The exposition once, for `forkq metrics`."""
    return ForkqCollector(admin).exposition()[0].decode("utf-8")
