"""Golden vectors for resque-retry's attempt-counter key (contract §13) and node-resque's lock
keys: Ruby's Array#join (nested arrays flattened, nil as "", Float#to_s, Hash#inspect) and
JavaScript's JSON.stringify, byte for byte."""
import hashlib
import random

import pytest

from forkq.api.policies import RetryPolicy, UniquePolicy, exponential_delay
from forkq.wire import retry_keys


def sha1(text):
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# (args, what Ruby's args.join('-') gives)
JOINS = [
    ([1, "a"], "1-a"),
    ([[1, [2, None]], "x", [], 3], "1-2--x--3"),
    ([None, 1], "-1"),
    ([1.5, 1.0, -0.0, 1e20, 1e16, 1e15, 1e-5, 0.0001], "1.5-1.0--0.0-1.0e+20-1.0e+16-"
     "1000000000000000.0-1.0e-05-0.0001"),
    ([True, False, 12345678901234567890, -7], "true-false-12345678901234567890--7"),
    (["é", "a b"], "é-a b"),
    ([{"a": 1, "b": [1, None, 'q"#{x}\n'], "c": {"d": 2.0}}],
     '{"a"=>1, "b"=>[1, nil, "q\\"\\#{x}\\n"], "c"=>{"d"=>2.0}}'),
    ([{}], "{}"),
    ([[None, []]], "-"),
]


@pytest.mark.parametrize("args,joined", JOINS)
def test_ruby_join(args, joined):
    assert retry_keys.ruby_join(args) == joined
    assert retry_keys.retry_key("Job", args) == "resque-retry:Job:" + sha1(joined)


def test_observed_keys_of_contract_13():
    # the real keys resque-retry 1.8.1 wrote for RetryProbe (contract §13, observed)
    assert retry_keys.retry_key("RetryProbe", [1, "a"]) == \
        "resque-retry:RetryProbe:92b083ca8ad311b6856d7c5dc28e0ff4b300862d"
    assert retry_keys.retry_key("RetryProbe", []) == "resque-retry:RetryProbe"
    assert retry_keys.failure_key("resque-retry:RetryDelayProbe:x") == \
        "failure-resque-retry:RetryDelayProbe:x"


@pytest.mark.parametrize("args", [[], [""], [None], [[]], [[None]]])
def test_an_empty_join_has_no_digest(args):
    assert retry_keys.retry_key("Mod::Job", args) == "resque-retry:Mod::Job"


def test_whitespace_leaves_the_whole_key_but_not_the_digest():
    assert retry_keys.retry_key("My Job\t", ["a b"]) == "resque-retry:MyJob:" + sha1("a b")


@pytest.mark.parametrize("value,js", [
    (1.0, "1"), (1.5, "1.5"), (-0.5, "-0.5"), (1e20, "100000000000000000000"),
    (1e21, "1e+21"), (2.5e25, "2.5e+25"), (1e16, "10000000000000000"), (1e-6, "0.000001"),
    (1e-7, "1e-7"), (1.5e-7, "1.5e-7"), (0.0001, "0.0001"), (123.456, "123.456"),
    (-0.0, "0"), (7, "7"), (2 ** 64, "18446744073709551616")])
def test_js_numbers(value, js):
    assert retry_keys.js_number(value) == js


def test_lock_keys_are_node_resques():
    args = [1, 1.0, "é\n", None, {"a": [2.5, 1e21]}, True]
    assert retry_keys.queue_lock_key("J", "q", args) == \
        'lock:J:q:[1,1,"é\\n",null,{"a":[2.5,1e+21]},true]'
    assert retry_keys.job_lock_key("J", "q", []) == "workerslock:J:q:[]"


# --- the decorator's options -----------------------------------------------------------------

def test_backoff_number_list_and_callable():
    assert [RetryPolicy.build(3, 5).delay(n) for n in range(4)] == [5, 5, 5, 5]
    listed = RetryPolicy.build(4, [0, 60, 600])
    assert [listed.delay(n) for n in range(5)] == [0, 60, 600, 600, 600]
    assert RetryPolicy.build(2, lambda n: 2 ** n).delay(3) == 8


def test_exponential_default_is_sidekiqs_formula():
    policy = RetryPolicy.build(25)
    assert policy.backoff == "exponential"
    rng = random.Random(7)
    for count in range(25):
        delay = policy.delay(count, rng)
        assert count ** 4 + 15 <= delay < count ** 4 + 15 + 10 * (count + 1)
    seen = {exponential_delay(0, rng) for _ in range(200)}
    assert seen == set(range(15, 25))  # jitter covers rand(10 * (0 + 1))


def test_which_backoffs_need_a_scheduler():
    assert not RetryPolicy.build(2, 0).delays and not RetryPolicy.build(2, [0, 0]).delays
    assert RetryPolicy.build(2, [0, 5]).delays and RetryPolicy.build(2).delays
    assert RetryPolicy.build(2, lambda n: 0).delays  # a callable may delay: assume it does


def test_limit_counts_retries_after_the_first_attempt():
    policy = RetryPolicy.build(2, 0)
    assert [policy.exhausted(n) for n in range(4)] == [False, False, True, True]
    assert RetryPolicy.build(0, 0).exhausted(0)


def test_retry_on_and_give_up_on():
    policy = RetryPolicy.build(3, 0, retry_on=(OSError,), give_up_on=ConnectionResetError)
    assert policy.retryable(ConnectionRefusedError())
    assert not policy.retryable(ConnectionResetError())
    assert not policy.retryable(ValueError())
    assert RetryPolicy.build(1, 0).retryable(ValueError())


@pytest.mark.parametrize("kwargs", [
    {"retry": -1}, {"retry": True}, {"retry": 1.5}, {"retry": 2, "backoff": -1},
    {"retry": 2, "backoff": []}, {"retry": 2, "backoff": [1, "x"]},
    {"retry": 2, "backoff": float("nan")}, {"retry": 2, "backoff": "linear"},
    {"retry": None, "backoff": 3}, {"retry": 2, "retry_on": (ValueError, "x")}])
def test_bad_retry_options_fail_at_registration(kwargs):
    with pytest.raises((ValueError, TypeError)):
        RetryPolicy.build(**kwargs)


def test_unique_options():
    assert UniquePolicy.build("until_executed").lock_ttl == 3600
    assert UniquePolicy.build("while_executing", lock_ttl=5).mode == "while_executing"
    assert UniquePolicy.build(None) is None
    for bad in ({"unique": "forever"}, {"unique": "until_executed", "lock_ttl": 0},
                {"unique": None, "lock_ttl": 5}):
        with pytest.raises(ValueError):
            UniquePolicy.build(**bad)


def test_the_class_of_a_counter_key():
    from forkq.store.retries import class_of
    assert class_of(retry_keys.retry_key("Mailers::Signup", [1])) == "Mailers::Signup"
    assert class_of(retry_keys.retry_key("Mailers::Signup", [])) == "Mailers::Signup"
