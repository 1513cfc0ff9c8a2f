"""Sight (worker/prune.py): heartbeat age is judged only by a pruner that has seen Redis
without a break for a prune interval, or, never blind since it started, whose Redis has been
up that long."""
from forkq.worker.prune import Sight


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Store:
    def __init__(self, uptime):
        self.up = uptime

    def uptime(self):
        return self.up


def test_a_fresh_worker_judges_only_when_redis_has_been_up_a_prune_interval():
    clock = Clock()
    sight = Sight(1.0, clock)
    assert not sight.may_judge_age(Store(10 ** 6), 3)  # no beat yet
    clock.now += 0.2
    sight.beat()
    assert sight.may_judge_age(Store(3), 3)
    assert not sight.may_judge_age(Store(2), 3)  # Redis just restarted: every beat is old


def test_after_a_blind_spell_a_full_prune_interval_of_beats_is_needed():
    clock = Clock()
    sight = Sight(1.0, clock)
    for _ in range(5):
        clock.now += 1.0
        sight.beat()
    assert sight.may_judge_age(Store(0), 3)  # five unbroken seconds of beats
    clock.now += 10.0  # Redis unreachable to us for ten seconds
    assert not sight.may_judge_age(Store(10 ** 6), 3)  # blind right now
    sight.beat()
    for _ in range(2):
        clock.now += 1.0
        sight.beat()
        assert not sight.may_judge_age(Store(10 ** 6), 3)  # however long Redis has been up
    clock.now += 1.0
    sight.beat()
    assert sight.may_judge_age(Store(0), 3)


def test_redis_down_at_start_up_is_a_blind_spell():
    clock = Clock()
    sight = Sight(1.0, clock)
    clock.now += 30.0  # the first beat only after 30 s of retrying
    sight.beat()
    assert not sight.may_judge_age(Store(10 ** 6), 3)
