"""Idle workers woken by any producer's push, with no server configuration (client tracking),
and the fallbacks when Redis refuses it. Every worker polls every 30 s: only a wake-up can
start a job within the 10 s deadlines."""
import json
import subprocess
import sys
import time

import pytest
from harness import enqueue_raw, pop, registered_id, wait_until

import forkq

SLOW_POLL = ("--interval", "30")


def idle(worker, client):
    """Registered, its first reserve behind it, and waiting: the worker's process is asleep in
    a select/poll on three looks 50 ms apart (a Redis read also polls, but for well under a
    millisecond here). A push before this point would be found by that first reserve and
    prove nothing."""
    registered_id(client, worker.pid, timeout=20)
    streak = []

    def waiting():
        streak.append(asleep())
        time.sleep(0.03)
        return len(streak) >= 3 and all(streak[-3:])

    def asleep():
        try:
            with open("/proc/%d/wchan" % worker.pid) as fh:
                wchan = fh.read()
        except OSError:
            return False
        return "select" in wchan or "poll" in wchan
    wait_until(waiting, timeout=20, message="the worker to wait idle")
    return worker


def test_raw_rpush_wakes_an_idle_worker_without_server_configuration(r, spawn_worker):
    assert r.config_get("notify-keyspace-events")["notify-keyspace-events"] == ""
    worker = idle(spawn_worker("-q", "default", *SLOW_POLL), r)
    assert "wake-ups: client tracking" in worker.log, worker.log
    # a bare RPUSH, as Ruby's Resque.push writes it (the queue set already names it or not)
    r.rpush("resque:queue:default", '{"class":"Record","args":["raw push"]}')
    assert pop(r, "test:done", timeout=10)["args"] == ["raw push"]
    # and again, now that it went idle after a job (its own pop was reported too)
    idle(worker, r)
    r.rpush("resque:queue:default", '{"class":"Record","args":["second"]}')
    assert pop(r, "test:done", timeout=10)["args"] == ["second"]


def test_wildcard_worker_sees_a_brand_new_queue(r, spawn_worker):
    worker = idle(spawn_worker("-q", "*", *SLOW_POLL), r)
    assert not r.exists("resque:queue:brand_new")
    enqueue_raw(r, "brand_new", {"class": "Record", "args": ["new queue"]})
    assert pop(r, "test:done", timeout=10)["args"] == ["new queue"]
    assert worker.alive()


def test_pushes_to_other_queues_do_not_start_anything(r, spawn_worker):
    worker = idle(spawn_worker("-q", "default", *SLOW_POLL), r)
    enqueue_raw(r, "other", {"class": "Record", "args": ["elsewhere"]})
    enqueue_raw(r, "default", {"class": "Record", "args": ["here"]})
    assert pop(r, "test:done", timeout=10)["args"] == ["here"]
    assert r.llen("resque:queue:other") == 1 and worker.alive()


@pytest.fixture
def no_client_url(redis_server, r):
    # an ACL user that may use channels and keys but not the CLIENT command: CLIENT TRACKING
    # is refused, as on a Redis before 6
    r.execute_command("ACL", "SETUSER", "forkq-noclient", "on", ">n0-Client", "~*",
                      "allchannels", "+@all", "-client")
    yield "redis://forkq-noclient:n0-Client@127.0.0.1:%d/0" % redis_server.port
    r.execute_command("ACL", "DELUSER", "forkq-noclient")


def test_tracking_refused_falls_back_to_keyspace_events_and_says_so(r, spawn_worker,
                                                                     no_client_url):
    r.config_set("notify-keyspace-events", "Kl")
    try:
        worker = idle(spawn_worker("-q", "default", *SLOW_POLL, url_override=no_client_url), r)
        assert "wake-ups: keyspace events" in worker.log, worker.log
        assert "CLIENT TRACKING refused" in worker.log, worker.log
        r.rpush("resque:queue:default", '{"class":"Record","args":["keyspace"]}')
        assert pop(r, "test:done", timeout=10)["args"] == ["keyspace"]
        worker.stop()  # before the fixture's DELUSER cuts its connections
    finally:
        r.config_set("notify-keyspace-events", "")


def test_tracking_refused_and_no_keyspace_events_leaves_the_wake_channel(r, spawn_worker,
                                                                         no_client_url):
    worker = idle(spawn_worker("-q", "default", *SLOW_POLL, url_override=no_client_url), r)
    assert "wake-ups: forkq's wake channel only" in worker.log, worker.log
    assert worker.log.count("wake-ups") == 1, worker.log
    forkq.Producer(r).enqueue("Record", "published", queue="default")
    assert pop(r, "test:done", timeout=10)["args"] == ["published"]
    worker.stop()


def test_forkq_failed_retry_wakes_an_idle_worker(r, spawn_worker, url):
    # the retry writes the queue with Lua and publishes nothing: tracking reports the write
    entry = {"failed_at": "2026/11/30 23:00:00 UTC", "exception": "RuntimeError",
             "error": "first try", "backtrace": [], "worker": "elsewhere:1:default",
             "queue": "default", "payload": {"class": "Record", "args": ["retried"]}}
    r.rpush("resque:failed", json.dumps(entry))
    worker = idle(spawn_worker("-q", "default", *SLOW_POLL), r)
    done = subprocess.run([sys.executable, "-m", "forkq", "failed", "retry", "0",
                           "--redis-url", url], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert pop(r, "test:done", timeout=10)["args"] == ["retried"]
    assert worker.alive()
