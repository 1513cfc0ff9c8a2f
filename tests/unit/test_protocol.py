"""The wire format as pure functions, against golden vectors from RESQUE_CONTRACT.md."""
import calendar
import json

import pytest

from forkq import wire
from forkq.config import Config, ConfigError, redact_url
from forkq.errors import InvalidPayload, exception_name

EPOCH = calendar.timegm((2026, 11, 23, 0, 48, 52))  # the contract's example moment


def test_key_names_under_namespace():
    k = wire.Keys("resque")
    assert k.queues == "resque:queues"
    assert k.queue("alpha") == "resque:queue:alpha"
    assert k.workers == "resque:workers"
    assert k.worker("vm:1:a") == "resque:worker:vm:1:a"
    assert k.started("vm:1:a") == "resque:worker:vm:1:a:started"
    assert k.heartbeat == "resque:workers:heartbeat"
    assert k.failed == "resque:failed"
    assert k.processed == "resque:stat:processed"
    assert k.processed_by("vm:1:a") == "resque:stat:processed:vm:1:a"
    assert k.failed_count == "resque:stat:failed"
    assert k.failed_by("vm:1:a") == "resque:stat:failed:vm:1:a"
    assert k.prune_lock == "resque:pruning_dead_workers_in_progress"
    assert k.pause_all == "resque:pause-all-workers"
    assert wire.Keys("resque:GitHub").queues == "resque:GitHub:queues"
    assert k.key("stat:processed") == k.processed and k.all_pattern() == "resque:*"
    assert wire.Keys("a[b]*?").all_pattern() == "a\\[b\\]\\*\\?:*"  # globs escaped


def test_worker_id_keeps_configured_queues_and_drops_exclusions():
    assert wire.worker_id("vm", 24087, ["alpha", "beta"]) == "vm:24087:alpha,beta"
    assert wire.worker_id("host", 7, ["a*", "b", "!x"]) == "host:7:a*,b"
    assert wire.parse_worker_id("vm:24087:alpha,beta") == ("vm", 24087, ["alpha", "beta"])


def test_time_shapes():
    assert wire.started_at(EPOCH) == "2026-11-23 00:48:52 +0000"
    assert wire.heartbeat_at(EPOCH) == "2026-11-23T00:48:52+00:00"
    assert wire.run_at(EPOCH) == "2026-11-23T00:48:52Z"
    assert wire.failed_at(EPOCH) == "2026/11/23 00:48:52 UTC"


@pytest.mark.parametrize("text", ["2026-11-23T00:48:52+00:00", "2026-11-23T00:48:52Z",
                                  "2026-11-23T05:48:52+05:00", "2026-11-22T19:48:52-05:00",
                                  "2026-11-23T00:48:52.000+00:00"])
def test_parse_heartbeat_shapes(text):
    assert wire.parse_time(text) == EPOCH


def test_parse_rejects_what_ruby_rejects():
    assert wire.parse_time("abc") is None
    assert wire.parse_time("1795395000") is None
    assert wire.parse_started("2026-11-23 00:48:52 +0000") == EPOCH


def test_job_payload_is_ruby_compact_json():
    assert wire.job_payload("Mailers::Signup", [1, "é", {"a": None}]) == \
        '{"class":"Mailers::Signup","args":[1,"é",{"a":null}]}'
    assert wire.job_payload("X", []) == '{"class":"X","args":[]}'
    assert wire.encode("a/b") == '"a/b"'  # Ruby does not escape "/"
    assert wire.encode("\u2028\x01\n") == '"\u2028\\u0001\\n"'


@pytest.mark.parametrize("value,ruby", [(1e20, "1.0e+20"), (1e16, "1.0e+16"),
                                        (1.5e+20, "1.5e+20"), (1e-05, "1.0e-05"),
                                        (1e15, "1000000000000000.0"), (0.0001, "0.0001"),
                                        (2.5, "2.5"), (-3e-7, "-3.0e-07")])
def test_floats_are_spelled_as_ruby_spells_them(value, ruby):
    assert wire.encode([value]) == "[%s]" % ruby


def test_strings_that_look_like_floats_stay_strings():
    assert wire.encode(["1e+20", 1e20]) == '["1e+20",1.0e+20]'


def test_no_nan_or_infinity():
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValueError):
            wire.encode([bad])


def test_big_integers_are_exact():
    assert wire.encode([2 ** 70]) == "[1180591620717411303424]"


def test_claim_json_key_order():
    claim = wire.claim_json("alpha", wire.run_at(EPOCH), '{"class":"X","args":[1]}')
    assert claim == ('{"queue":"alpha","run_at":"2026-11-23T00:48:52Z",'
                     '"payload":{"class":"X","args":[1]}}')
    assert list(json.loads(claim)) == ["queue", "run_at", "payload"]
    with_worker = wire.claim_json("alpha", "t", '{"class":"X"}', worker="vm:7")
    assert with_worker == '{"queue":"alpha","run_at":"t","payload":{"class":"X"},"worker":"vm:7"}'
    numbered = wire.claim_json("alpha", "t", '{"class":"X"}', worker="vm:7", seq=12)
    assert numbered == ('{"queue":"alpha","run_at":"t","payload":{"class":"X"},"worker":"vm:7",'
                        '"seq":12}')
    assert list(json.loads(numbered)) == ["queue", "run_at", "payload", "worker", "seq"]


def test_split_claim_reads_forkq_ruby_and_node_resque_claims():
    payload = '{"class":"X","args":[1.0e+20],"id":"a"}'
    for claim in (wire.claim_json("q", "t", payload, worker="h:1", seq=7),
                  wire.claim_json("q", "t", payload, worker="h:1"),
                  wire.claim_json("q", "t", payload),
                  '{"run_at":"Mon Nov 23","queue":"q","payload":%s,"worker":"h:2"}' % payload):
        assert wire.split_claim(claim) == ("q", payload, True, "X")
    quoted = '{"queue":"q","run_at":"t","payload":"not \\u00ff json","worker":"h:1"}'
    assert wire.split_claim(quoted)[1:3] == (b"not \xff json", False)


def test_failure_json_has_resque_fields_in_order_and_keeps_payload_bytes():
    raw = '{"class":"X","args":[1.0e+20],"id":"abc"}'
    text = wire.failure_json(wire.failed_at(EPOCH), raw, "ValueError", "boom",
                                 ["a.py:1:in `f'"], "vm:1:q", "q")
    assert text.startswith('{"failed_at":"2026/11/23 00:48:52 UTC","payload":' + raw + ',')
    entry = json.loads(text)
    assert list(entry) == ["failed_at", "payload", "exception", "error", "backtrace", "worker",
                           "queue"]
    assert entry["backtrace"] == ["a.py:1:in `f'"] and entry["worker"] == "vm:1:q"


def test_failure_json_keeps_a_bad_payload_as_text():
    entry = json.loads(wire.failure_json("t", b"not \xff json", "E", "e", [], "w", "q",
                                             payload_is_json=False))
    assert entry["payload"] == "not \\xff json"


@pytest.mark.parametrize("raw,words", [
    (b"nope", "not valid JSON"),
    (b"\xff\xfe", "not valid UTF-8"),
    (b"[1,2]", "JSON array"),
    (b'"x"', "JSON string"),
    (b"{}", 'no "class"'),
    (b'{"class":5}', "not a string"),
    (b'{"class":" "}', "empty"),
    (b'{"class":"X","args":{"a":1}}', '"args" is a JSON object'),
    (b'{"class":"X","args":[NaN]}', "NaN"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
])
def test_decode_payload_says_what_is_wrong(raw, words):
    with pytest.raises(InvalidPayload) as err:
        wire.decode_payload(raw)
    assert words in str(err.value)


def test_decode_payload_missing_args_is_empty():
    assert wire.decode_payload(b'{"class":"X"}')["args"] == []
    assert wire.decode_payload(b'{"class":"X","args":[1],"extra":true}')["extra"] is True


def test_queue_globs_follow_ruby_fnmatch():
    known = ["critical", "default", "low", "mail", ".hidden", "a/b", "{a,b}", "a"]
    assert wire.expand_queues(["critical", "*"], known) == \
        ["critical", "a", "a/b", "default", "low", "mail", "{a,b}"]
    assert wire.expand_queues(["*", "!low", "!m*"], known) == \
        ["a", "a/b", "critical", "default", "{a,b}"]
    assert wire.expand_queues(["{a,b}"], known) == ["{a,b}"]
    assert wire.expand_queues(["[cd]*"], known) == ["critical", "default"]
    assert wire.expand_queues(["[!cd]*"], known) == ["a", "a/b", "low", "mail", "{a,b}"]
    assert wire.expand_queues(["?"], known) == ["a"]
    assert wire.expand_queues(["a", "b"], known) == ["a", "b"]  # static: as given


def test_exception_names():
    assert exception_name(ValueError("x")) == "ValueError"
    from forkq import JobTimeout
    assert exception_name(JobTimeout()) == "forkq.JobTimeout"


def test_config_reads_resque_environment():
    cfg = Config.load({}, {"QUEUE": "a, b", "INTERVAL": "0.5", "PIDFILE": "/tmp/x",
                           "VERBOSE": "", "REDIS_URL": "redis://h:1/2"}, need_queues=True)
    assert cfg.queues == ("a", "b") and cfg.interval == 0.5 and cfg.pidfile == "/tmp/x"
    assert cfg.verbose is True and cfg.redis_url == "redis://h:1/2"
    cfg = Config.load({"queues": ("x,y", "z")}, {"QUEUES": "q", "QUEUE": "p"})
    assert cfg.queues == ("x", "y", "z")
    assert Config.load({}, {"QUEUES": "q", "QUEUE": "p"}).queues == ("q",)
    assert Config.load({}, {"INTERVAL": "0"}).draining


def test_config_refuses_what_cannot_work():
    with pytest.raises(ConfigError, match="at least one queue"):
        Config.load({}, {}, need_queues=True)
    with pytest.raises(ConfigError, match="':'"):
        Config.load({"queues": ("a:b",)}, {})
    with pytest.raises(ConfigError, match="heartbeat"):
        Config.load({"heartbeat_interval": 90.0}, {})
    with pytest.raises(ConfigError, match="INTERVAL"):
        Config.load({}, {"INTERVAL": "soon"})


def test_passwords_are_redacted():
    assert redact_url("redis://user:s3cret@host:6380/1") == "redis://user:***@host:6380/1"
    assert redact_url("rediss://:s3cret@host/0") == "rediss://:***@host/0"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"


def test_config_defaults_are_the_options_defaults():
    import dataclasses

    from forkq.config import OPTIONS
    fields = {f.name: f.default for f in dataclasses.fields(Config)}
    # plus where the Redis URL came from, which is not an option of its own
    assert fields == dict({o.name: o.default for o in OPTIONS}, redis_url_source="default")


def test_enqueued_at_from_payloads_that_say_it():
    assert wire.enqueued_at({"class": "X", "args": []}) is None
    assert wire.enqueued_at({"class": "X", "enqueued_at": 1795394932}) == 1795394932
    assert wire.enqueued_at({"class": "X", "enqueued_at": 1795394932500}) == 1795394932.5
    aj = {"class": "ActiveJob::QueueAdapters::ResqueAdapter::JobWrapper",
          "args": [{"job_class": "J", "enqueued_at": "2026-11-23T00:48:52Z"}]}
    assert wire.enqueued_at(aj) == EPOCH
    assert wire.enqueued_at({"class": "X", "enqueued_at": "soon"}) is None


def test_glob_match_reads_lua_magic_characters_as_literals():
    assert wire.glob_match("x%*", "x%y") and not wire.glob_match("x%*", "xy")
    assert wire.glob_match("a.b", "a.b") and not wire.glob_match("a.b", "axb")
    assert wire.glob_match("(a)+$^", "(a)+$^")
    assert wire.glob_match("[%]x", "%x") and not wire.glob_match("[%]x", "ax")
    assert wire.glob_match("\\*", "*") and not wire.glob_match("\\*", "a")
    assert wire.glob_match("\\.hidden", ".hidden") and not wire.glob_match("*", ".h")
    assert wire.glob_match("[a-c]", "b") and wire.glob_match("[!a-c]", "é")


def test_glob_question_mark_is_one_character():
    assert wire.glob_match("?", "é") and wire.glob_match("??", "日本")
    assert not wire.glob_match("?", "ab")
    lua = wire.glob_to_lua("?")
    assert lua == b"^[%z\x01-\x7f\xc2-\xf4][\x80-\xbf]*$"
    assert wire.glob_to_lua("x%*") == b"^x%%.*$"


@pytest.mark.parametrize("claim", [
    '{"queue":"q","run_at":"t","payload":{"class":"X","args":[NaN]}}',
    '{"queue":"q","run_at":"t","payload":{"class":"X","args":[Infinity]}}',
])
def test_split_claim_refuses_what_json_refuses(claim):
    queue, raw, is_json, job_class = wire.split_claim(claim)
    assert (queue, raw, is_json, job_class) == ("", claim, False, None)


def test_split_claim_cuts_the_payload_out_of_a_numbered_claim():
    # the payload is cut out as its bytes (a re-encoding would lose the space and the \u
    # escape): the tail after it must be recognised and cut off
    payload = '{"class":"X", "args":[1.0e+20,"\\u00e9","},\\"seq\\":1}"],"seq":3}'
    claim = wire.claim_json("q", "t", payload, worker="h:1", seq=40)
    assert wire.split_claim(claim) == ("q", payload, True, "X")
    assert wire.split_claim(claim + "\n") == ("q", payload, True, "X")


def test_split_claim_keeps_a_payload_python_reads_as_inf():
    claim = '{"queue":"q","run_at":"t","payload":{"class":"X","args":[1e999]}}'
    assert wire.split_claim(claim) == ("q", '{"class":"X","args":[1e999]}', True, "X")


def test_decode_payload_names_an_integer_too_long_for_python():
    digits = "7" * 5000
    with pytest.raises(InvalidPayload) as err:
        wire.decode_payload(('{"class":"X","args":[%s]}' % digits).encode())
    assert str(err.value) == ("payload has an integer of 5000 digits, more than Python's limit "
                              "of 4300")
    assert err.value.is_object
    with pytest.raises(InvalidPayload) as err:
        wire.decode_payload((" [-%s]" % digits).encode())
    assert "integer of 5000 digits" in str(err.value) and not err.value.is_object
    assert wire.decode_payload(('{"class":"X","args":[%s]}' % ("9" * 4300)).encode())


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1" * 400 + ".0"])
def test_decode_payload_refuses_a_number_out_of_range(number):
    with pytest.raises(InvalidPayload) as err:
        wire.decode_payload(('\n {"class":"X","args":[%s]}' % number).encode())
    assert str(err.value).startswith("payload has a number out of range: " + number[:40])
    assert err.value.is_object
    assert wire.decode_payload(b'{"class":"X","args":[1e308,-2.5e-300]}')["args"][0] == 1e308


def test_failure_json_is_valid_utf8_whatever_the_job_said():
    import os
    bad = os.fsdecode(b"\xfe.txt")  # a lone surrogate, as a file name with bad bytes gives
    text = wire.failure_json("t", b'{"class":"X","args":[]}', "Err" + bad, "no " + bad,
                                 ["/x/" + bad + ":1:in `f'"], "w" + bad, "q" + bad)
    entry = json.loads(text.encode("utf-8").decode("utf-8"))
    assert entry["error"] == "no ?.txt" and entry["exception"] == "Err?.txt"
    assert entry["backtrace"] == ["/x/?.txt:1:in `f'"]
    assert (entry["worker"], entry["queue"]) == ("w?.txt", "q?.txt")
    assert entry["payload"] == {"class": "X", "args": []}
    quoted = wire.failure_json("t", "not json " + bad, "E", "e", [], "w", "q",
                                   payload_is_json=False)
    assert json.loads(quoted.encode("utf-8"))["payload"] == "not json ?.txt"


def test_event_log_writes_text_a_strict_stream_cannot_encode():
    import io

    from forkq.log import EventLog
    for fmt in ("text", "json"):
        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
        EventLog(fmt=fmt, stream=stream).event("failed", "ValueError: \udcfe.txt é",
                                               queue="q\udcfe")
        line = raw.getvalue().decode("utf-8")
        assert "\\udcfe.txt é" in line and "q\\udcfe" in line
        ascii_raw = io.BytesIO()
        ascii_stream = io.TextIOWrapper(ascii_raw, encoding="ascii", errors="strict")
        EventLog(fmt=fmt, stream=ascii_stream).event("failed", "é \udcfe")
        assert "\\xe9 \\udcfe" in ascii_raw.getvalue().decode("ascii")
