"""The reserve script through Store.cycle against a real redis-server: many queues, queue
order, glob matching by character, and claims that are always strict JSON."""
import json
import os
import shutil
import subprocess

import pytest
from harness import RedisServer

from forkq import wire
from forkq.store.plan import Idle, QueuePlan, Reserved
from forkq.store.worker_io import Store

WID = "testhost:4242:*"


def strict_json(data):
    """Python's strict reading, as Ruby's JSON and resque-web read a claim."""
    def refuse(name):
        raise ValueError("not JSON: %s" % name)
    return json.loads(data.decode("utf-8"), parse_constant=refuse)


@pytest.fixture
def store(url, r):
    s = Store(url, "resque")
    yield s
    s.redis.close()


def reserve(store, queues):
    found, _finished = store.cycle(WID, "2026-11-23T00:48:52Z", None, QueuePlan(queues))
    return found


def fill(r, names, job_in=()):
    pipe = r.pipeline(transaction=False)
    pipe.sadd("resque:queues", *names)
    for name in job_in:
        pipe.rpush("resque:queue:" + name, '{"class":"X","args":[%s]}' % json.dumps(name))
    pipe.execute()


@pytest.mark.parametrize("queues", [None, ["q*"]], ids=["static", "dynamic"])
def test_nine_thousand_queues_reserve_and_go_idle(store, r, queues):
    names = ["q%05d" % i for i in range(9000)]
    fill(r, names, job_in=["q08999", "q04500"])
    plan = queues or names
    found = reserve(store, plan)
    assert isinstance(found, Reserved) and found.queue == "q04500"
    r.delete("resque:worker:" + WID)
    found = reserve(store, plan)
    assert isinstance(found, Reserved) and found.queue == "q08999"
    r.delete("resque:worker:" + WID)
    idle = reserve(store, plan)
    assert isinstance(idle, Idle) and len(idle.queues) == 9000


def test_glob_question_mark_matches_one_character_not_one_byte(store, r):
    fill(r, ["é", "a", "ab", "日本", "x"])
    idle = reserve(store, ["?", "!x"])
    assert isinstance(idle, Idle) and idle.queues == ["a", "é"]
    assert reserve(store, ["??"]).queues == ["ab", "日本"]
    assert reserve(store, ["[!a]"]).queues == ["x", "é"]
    assert wire.expand_queues(["?", "!x"], ["é", "a", "ab", "日本", "x"]) == ["a", "é"]


@pytest.fixture(scope="module")
def collating_redis(tmp_path_factory):
    """A redis-server whose LC_COLLATE is en_US.UTF-8, where strcoll puts "ab" before "B"."""
    if shutil.which("localedef") is None:
        pytest.skip("localedef is not installed: cannot build a collating locale")
    locales = str(tmp_path_factory.mktemp("locales"))
    done = subprocess.run(["localedef", "-i", "en_US", "-f", "UTF-8",
                           os.path.join(locales, "en_US.UTF-8")], capture_output=True)
    if done.returncode not in (0, 1) or not os.path.isdir(os.path.join(locales, "en_US.UTF-8")):
        pytest.skip("could not build the en_US.UTF-8 locale: %s" % done.stderr[-200:])
    saved = {k: os.environ.get(k) for k in ("LOCPATH", "LC_ALL", "LC_COLLATE", "LANG")}
    os.environ.update(LOCPATH=locales, LC_ALL="en_US.UTF-8")
    try:
        server = RedisServer()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield server
    server.cleanup()


def test_dynamic_queue_order_is_byte_order_whatever_the_server_locale(collating_redis):
    client = collating_redis.client()
    probe = client.eval("local t = {'b', 'B', 'ab', 'a_c'}; table.sort(t); "
                        "return table.concat(t, ' ')", 0)
    if probe == b"B a_c ab b":
        pytest.skip("this redis-server compares bytes even with LC_ALL=en_US.UTF-8")
    store = Store(collating_redis.url, "resque")
    names = ["b", "B", "ab", "a_c", "Z", "é", "a" * 9000, "a" * 9000 + "b"]  # long: sliced
    fill(client, names, job_in=names)
    assert reserve(store, ["*"]).queue == "B"
    client.delete("resque:worker:" + WID)
    order = ["B"]
    while True:
        found = reserve(store, ["*"])
        if not isinstance(found, Reserved):
            break
        client.delete("resque:worker:" + WID)
        order.append(found.queue)
    assert order == sorted(names, key=lambda n: n.encode())
    assert order[:3] + order[5:] == ["B", "Z", "a_c", "ab", "b", "é"]
    assert found.queues == order
    store.redis.close()
    client.close()


LENIENT = [  # what Redis's cjson accepts and JSON (Ruby, resque-web, Python) refuses
    b'{"class":"X","args":[NaN]}',
    b'{"class":"X","args":[Infinity]}',
    b'{"class":"X","args":[-Infinity]}',
    b'{"class":"X","args":[0x10]}',
    b'{"class":"X","args":[1.]}',
    b'{"class":"X","args":[-.5]}',
    b'{"class":"X","args":["tab\there"]}',
    b'{"class":"X","args":["\xff\xfe"]}',
    b'{"class":"X","args":["\xc0\xaf"]}',            # overlong "/"
    b'{"class":"X","args":["\xed\xa0\x80"]}',        # an encoded surrogate
    b'{"class":"X","args":["\xf4\x90\x80\x80"]}',    # above U+10FFFF
    b'{"class":"X","args":["\xe2\x82"]}',            # truncated
    b'{"class":"X","args":["a\x80"]}',               # stray continuation byte
    b'{"class":"X","args":["\xc3\xa9\xa9"]}',        # one continuation too many
]
STRICT = [
    b'{"class":"X","args":[1.5,-0.5,1e5,1.0e+20,"v1.x","-.","\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80"]}',
    b'{"class":"X","args":["a\\tb","\\u00e9","\\\\","\\"1."]}',
    b' {"class":"X","args":[]}\n',
]


@pytest.mark.parametrize("raw", LENIENT + STRICT)
def test_every_claim_is_strict_json_in_valid_utf8(store, r, raw):
    r.sadd("resque:queues", "default")
    r.rpush("resque:queue:default", raw)
    found = reserve(store, ["default"])
    assert isinstance(found, Reserved) and found.raw == raw
    claim_bytes = r.get("resque:worker:" + WID)
    claim = strict_json(claim_bytes)
    queue, payload, is_json, _cls = wire.split_claim(claim_bytes)
    assert queue == "default"
    if raw in STRICT:
        assert isinstance(claim["payload"], dict)
        assert raw.strip() in claim_bytes  # spliced as popped
        assert is_json
    else:
        assert claim["payload"] == raw.decode("latin-1")  # quoted, losslessly
        assert (payload, is_json) == (raw, False)


def test_the_script_writes_the_claim_protocol_claim_json_describes(store, r):
    # golden: the Lua claim and its Python twin, byte for byte, numbered by the store
    raw = '{"class":"X","args":[1.0e+20,"é"],"id":"a"}'
    r.sadd("resque:queues", "default")
    r.rpush("resque:queue:default", raw, raw)
    for seq in (1, 2):
        assert isinstance(reserve(store, ["default"]), Reserved)
        claim = r.get("resque:worker:" + WID).decode("utf-8")
        assert claim == wire.claim_json("default", "2026-11-23T00:48:52Z", raw,
                                            worker="testhost:4242", seq=seq)
        r.delete("resque:worker:" + WID)
    r.rpush("resque:queue:default", raw)
    store.cycle(WID, "t", None, QueuePlan(["default"]), seq=9000)  # a number given is used
    assert r.get("resque:worker:" + WID).endswith(b',"worker":"testhost:4242","seq":9000}')


def test_claim_queue_name_that_is_not_utf8_is_still_valid(store, r):
    r.sadd("resque:queues", b"q\xff")
    r.rpush(b"resque:queue:q\xff", b'{"class":"X","args":[]}')
    found = reserve(store, ["q*"])
    assert isinstance(found, Reserved)
    claim = strict_json(r.get("resque:worker:" + WID))
    assert claim["queue"] == "q\xff" and claim["payload"] == {"class": "X", "args": []}


def test_cjson_number_setting_is_left_as_found(store, r):
    fill(r, ["default"])
    r.rpush("resque:queue:default", '{"class":"X","args":[NaN]}')
    reserve(store, ["default"])
    assert r.eval("return tostring(cjson.decode_invalid_numbers())", 0) == b"true"


def test_a_busy_worker_spends_seven_commands_a_job_and_leaves_no_claim(store, r):
    # The hot path's budget (issue: <= 8 a job, script-run commands included): EVALSHA, one
    # MGET (fence, claim, pause flag), the fence's SET, 2 x INCRBY, LPOP, SET. done_working's
    # DEL is folded into the SET of the next claim, and is spent only when the worker goes
    # idle.
    fill(r, ["busy"], job_in=["busy"] * 50)
    plan = QueuePlan(["busy"])
    found, _ = store.cycle(WID, "2026-11-23T00:48:52Z", None, plan)
    r.config_resetstat()
    for _ in range(49):
        found, finished = store.cycle(WID, "2026-11-23T00:48:52Z", ("", False, None), plan,
                                      claim_sha=found.claim_sha)
        assert finished == 1 and isinstance(found, Reserved)
    stats = {k[len("cmdstat_"):]: v["calls"] for k, v in r.info("commandstats").items()}
    stats.pop("config|resetstat", None)
    assert sum(stats.values()) == 7 * 49, stats
    assert stats.get("del") is None
    idle, finished = store.cycle(WID, "2026-11-23T00:48:52Z", ("", False, None), plan,
                                 claim_sha=found.claim_sha)
    assert finished == 1 and isinstance(idle, Idle)
    assert not r.exists("resque:worker:" + WID) and r.get("resque:stat:processed") == b"50"
