"""Chaos for the scheduler: masters SIGKILLed (or frozen past their lock) at random while
1,200 delayed jobs come due; every job reaches its queue exactly once. And a cron schedule
firing every second keeps firing once per second across a master fail-over."""
import json
import random
import re
import signal
import time

from harness import wait_until
from schedharness import LOCK

import forkq

CHAOS = ("--scheduler-interval", "0.1", "--lock-timeout", "1", "--delayed-batch-size", "5")


def redis_now(r):
    secs, micros = r.time()
    return secs + micros / 1e6


def master(r, schedulers):
    holder = r.get(LOCK)
    return next((s for s in schedulers if s.alive() and s.lock_value == holder), None)


def test_each_job_moves_exactly_once_while_masters_die(r, spawn_scheduler):
    rng = random.Random(1234)
    now = int(redis_now(r))
    jobs = 1200
    for i in range(jobs):
        forkq.enqueue_at(now + 2 + i % 4, "Chaos", i, queue="chaos", connection=r)
    running = [spawn_scheduler(*CHAOS) for _ in range(2)]
    frozen = []
    kills = freezes = 0
    deadline = time.monotonic() + 40
    while r.exists("resque:delayed_queue_schedule") and time.monotonic() < deadline:
        # aim just past a whole Redis second, when a master is busy moving that second's jobs
        wait = 1 - redis_now(r) % 1 + rng.uniform(0.0, 0.05)
        time.sleep(wait)
        victim = master(r, running)
        if victim is None:
            continue
        if rng.random() < 0.7:
            victim.signal(signal.SIGKILL)
            victim.wait()
            kills += 1
        else:  # frozen past its lock's TTL: it wakes up believing it is still master
            victim.signal(signal.SIGSTOP)
            frozen.append(victim)
            freezes += 1
        running = [s for s in running if s.alive() and s not in frozen]
        running.append(spawn_scheduler(*CHAOS))
        if len(frozen) and rng.random() < 0.6:
            thawed = frozen.pop(0)
            thawed.signal(signal.SIGCONT)
            running.append(thawed)
    for s in frozen:
        s.signal(signal.SIGCONT)
    wait_until(lambda: not r.exists("resque:delayed_queue_schedule"), timeout=15,
               message="every timestamp moved")
    time.sleep(0.3)
    got = [json.loads(x)["args"][0] for x in r.lrange("resque:queue:chaos", 0, -1)]
    assert len(got) == jobs, "moved %d for %d jobs" % (len(got), jobs)
    assert sorted(got) == list(range(jobs))
    assert not r.keys("resque:timestamps:*") and not r.keys("resque:delayed:1*")
    assert not r.exists("resque:failed")
    assert kills + freezes >= 2, "the chaos never hit a master"


def test_cron_every_second_fires_once_per_second_across_failover(r, spawn_scheduler):
    args = ("--scheduler-interval", "0.2", "--lock-timeout", "2")
    first = spawn_scheduler(*args)
    wait_until(lambda: r.get(LOCK) == first.lock_value, message="the first master")
    second = spawn_scheduler(*args)
    wait_until(lambda: "standby" in second.log, message="the standby")
    from click.testing import CliRunner
    from forkq.cli.app import cli, load_commands
    load_commands()
    out = CliRunner().invoke(cli, ["schedule", "add", "tick", "--cron", "* * * * * *",
                                   "--class", "Tick", "--queue", "ticks", "--args", '["t"]',
                                   "--redis-url", "redis://127.0.0.1:%d/0"
                                   % r.connection_pool.connection_kwargs["port"]])
    assert out.exit_code == 0, out.output
    assert r.blpop(["resque:queue:ticks"], timeout=5)[1] == b'{"class":"Tick","args":["t"]}'
    last = r.hget("resque:delayed:last_enqueued_at", "tick")
    assert re.match(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000$", last), last  # Time#to_s
    s0 = forkq.wire.scheduler.parse_ruby_time(last)
    time.sleep(1.5)
    first.signal(signal.SIGKILL)
    first.wait()
    killed_at = redis_now(r)
    wait_until(lambda: r.get(LOCK) == second.lock_value, timeout=6, message="the fail-over")
    wait_until(lambda: forkq.wire.scheduler.parse_ruby_time(
        r.hget("resque:delayed:last_enqueued_at", "tick")) >= killed_at + 4, timeout=10,
        message="four seconds of fires after the kill")
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    s1 = forkq.wire.scheduler.parse_ruby_time(r.hget("resque:delayed:last_enqueued_at", "tick"))
    # every second from s0 to s1 fired once: the first was popped above
    assert r.llen("resque:queue:ticks") + 1 == s1 - s0 + 1
    assert "missed fires" in second.log  # the seconds the dead master's lock still held
