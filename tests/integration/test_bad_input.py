"""Bad input never crashes the worker: each malformed entry ends as exactly one `failed` entry
that says what was wrong, and good jobs queued after them are performed.

Mechanisms proven: wire.decode_payload's checks (numbers Python cannot hold included), the
reserve script quoting a non-object entry in the claim (worker:<id> is always valid JSON), the
registry lookup (UnknownJob), and the child's report of the job's own exception (wrong arity).
The fuzz runs its examples against one long-running worker and checks each record against the
reason decode_payload gives for that exact entry."""
import itertools
import json

import pytest
import workerjobs  # noqa: F401  (registers the jobs the worker knows, to tell them apart)
from harness import enqueue_raw, pop, wait_until
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from forkq import wire
from forkq.api import registry as jobs
from forkq.errors import InvalidPayload

BIG = "x" * (10 * 1024 * 1024)


def loads(text):
    """json.loads for failure entries: a payload kept as it was may hold an integer longer
    than Python's int() takes (Ruby reads it); keep such a number as its digits."""
    return json.loads(text, parse_int=lambda digits: int(digits) if len(digits) < 4000
                      else digits)


# (raw entry, words the failure's error must contain)
CORPUS = [
    (b"", "not valid JSON"),
    (b"not json", "not valid JSON"),
    (b"{", "not valid JSON"),
    (b"{'class': 'Record'}", "not valid JSON"),
    (b'{"class":"Record","args":[1,]}', "not valid JSON"),
    (b'{"class":"Record","args":[1]', "not valid JSON"),
    (b'{"class":"Record" "args":[]}', "not valid JSON"),
    (b"\x00\x01\x02", "not valid JSON"),
    (b"\xff\xfe\xfd", "not valid UTF-8"),
    (b'{"class":"Record","args":["\xc3\x28"]}', "not valid UTF-8"),
    (b'{"class":"\xe2\x82","args":[]}', "not valid UTF-8"),
    (b'\xef\xbb\xbf{"class":"Record","args":[]}', "not valid JSON"),  # a BOM
    (b"[]", "JSON array"),
    (b'["Record",[1]]', "JSON array"),
    (b'"Record"', "JSON string"),
    (b"42", "JSON number"),
    (b"3.14", "JSON number"),
    (b"true", "JSON boolean"),
    (b"null", "JSON null"),
    (b"{}", 'no "class"'),
    (b'{"args":[1]}', 'no "class"'),
    (b'{"klass":"Record","args":[]}', 'no "class"'),
    (b'{"class":null,"args":[]}', "JSON null, not a string"),
    (b'{"class":42,"args":[]}', "JSON number, not a string"),
    (b'{"class":["Record"],"args":[]}', "JSON array, not a string"),
    (b'{"class":{"name":"Record"},"args":[]}', "JSON object, not a string"),
    (b'{"class":true,"args":[]}', "JSON boolean, not a string"),
    (b'{"class":"","args":[]}', '"class" is empty'),
    (b'{"class":"   ","args":[]}', '"class" is empty'),
    (b'{"class":"Record","args":{"a":1}}', '"args" is a JSON object'),
    (b'{"class":"Record","args":"1,2"}', '"args" is a JSON string'),
    (b'{"class":"Record","args":7}', '"args" is a JSON number'),
    (b'{"class":"Record","args":true}', '"args" is a JSON boolean'),
    (b'{"class":"Record","args":[NaN]}', "NaN is not valid JSON"),
    (b'{"class":"Record","args":[Infinity]}', "Infinity is not valid JSON"),
    (b'{"class":"Record","args":[-Infinity]}', "Infinity is not valid JSON"),
    (b"[" * 50000 + b"]" * 50000, "nested too deeply"),
    (b'{"class":"Record","args":' + b"[" * 50000 + b"]" * 50000 + b"}", "nested too deeply"),
    (('{"class":"Record","args":["%s"' % BIG).encode(), "not valid JSON"),  # 10 MB, cut off
    (b'{"class":"NoSuchJob","args":[]}', "No job is registered as 'NoSuchJob'"),
    (b'{"class":"os.system","args":["id"]}', "No job is registered as 'os.system'"),
    (b'{"class":"subprocess.call","args":[["id"]]}', "No job is registered as 'subprocess.call'"),
    (b'{"class":"builtins.eval","args":["1"]}', "No job is registered as 'builtins.eval'"),
    (b'{"class":"__import__","args":["os"]}', "No job is registered as '__import__'"),
    (b'{"class":"forkq.worker.Worker","args":[]}', "No job is registered"),
    (b'{"class":"Record.__class__","args":[]}', "No job is registered"),
    (b'{"class":"../../etc/passwd","args":[]}', "No job is registered"),
    (b'{"class":"Fail","args":[]}', "missing 1 required positional argument"),
    (b'{"class":"Fail","args":["a","b","c"]}', "takes 1 positional argument"),
    (b'{"class":"Exit","args":[]}', "missing 1 required positional argument"),
    (b'{"class":"Mailers::Signup","args":[1,2,3]}', "positional arguments"),
    (b'{"class":"Sleep","args":["not a number"]}', "cannot be interpreted"),
    # numbers JSON allows but Python cannot hold: past int()'s 4,300-digit limit, and inf
    (b'{"class":"Record","args":[' + b"7" * 5000 + b']}', "digits"),
    (b'{"class":"Record","args":[-' + b"9" * 4301 + b']}', "digits"),
    (b'{"class":"Record","args":[1e999]}', "out of range"),
    (b'{"class":"Record","args":[-1.5E+400]}', "out of range"),
]


def test_corpus_of_malformed_entries(r, spawn_worker):
    assert len(CORPUS) >= 50
    for i, (raw, _words) in enumerate(CORPUS):
        enqueue_raw(r, "default", raw)
        enqueue_raw(r, "default", {"class": "Record", "args": [i]})
    # huge but valid entries are fine: a 10 MB argument and a huge integer
    enqueue_raw(r, "default", {"class": "Record", "args": [len(BIG), BIG]})
    enqueue_raw(r, "default", '{"class":"Record","args":[%d]}' % (10 ** 400))
    worker = spawn_worker("-q", "default", "--burst", "--timeout", "20")
    assert worker.wait(120) == 0, worker.log[-2000:]
    raws = r.lrange("resque:failed", 0, -1)
    assert len(raws) == len(CORPUS)
    for (raw, words), failed in zip(CORPUS, raws):
        failed.decode("utf-8")  # valid UTF-8, and valid JSON for resque-web
        entry = loads(failed)
        assert words in entry["error"], (raw[:80], entry["error"][:300])
        assert isinstance(entry["backtrace"], list) and entry["queue"] == "default"
        if not raw.lstrip().startswith(b"{") or words.startswith(("not valid", "nested")):
            assert isinstance(entry["payload"], str)  # the raw text kept when not an object
    done = [pop(r, "test:done")["args"] for _ in range(len(CORPUS) + 2)]
    assert [d[0] for d in done[:len(CORPUS)]] == list(range(len(CORPUS)))
    assert done[-2][0] == len(BIG) and len(done[-2][1]) == len(BIG)
    assert done[-1] == [10 ** 400]
    assert r.get("resque:stat:processed") == str(2 * len(CORPUS) + 2).encode()


# --- property-based: random entries against one long-running worker -------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() |
    st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) |
    st.dictionaries(st.sampled_from(["class", "args", "queue", "x"]) | st.text(max_size=5),
                    kids, max_size=4),
    max_leaves=12)
job_like = st.fixed_dictionaries(
    {"class": st.text(max_size=20) | st.sampled_from(["", " ", "::", "os.system", "Record "]),
     "args": json_values})
payload_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    job_like.map(lambda v: json.dumps(v).encode()),
    job_like.map(lambda v: json.dumps(v, ensure_ascii=False).encode()[:-1]),  # cut short
    st.integers(min_value=4301, max_value=6000).map(
        lambda n: b'{"class":"Record","args":[' + b"1" * n + b"]}"),
    st.sampled_from([b"1e999", b"-1e400", b"1E+309"]).map(
        lambda num: b'{"class":"Record","args":[' + num + b"]}"),
)


def expected_failure(raw):
    """(exception, error words, payload kept as an object?) the worker must record for `raw`,
    computed with the same decoder the worker uses; None for an entry that would run."""
    try:
        payload = wire.decode_payload(raw)
    except InvalidPayload as exc:
        return "forkq.InvalidPayload", str(exc), exc.is_object
    if jobs.lookup(payload["class"]) is not None:
        return None
    return "forkq.UnknownJob", "No job is registered as %r" % payload["class"], True


@pytest.fixture
def fuzz_worker(r, spawn_worker):
    """One worker for every example (hypothesis reuses function-scoped fixtures): a worker
    that survives one bad entry must survive them all, and it saves a start-up per example."""
    worker = spawn_worker("-q", "fuzz", "--interval", "0.1")
    return worker, itertools.count()


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(entries=st.lists(payload_bytes, min_size=1, max_size=4))
def test_fuzzed_entries_each_end_in_exactly_one_record(r, fuzz_worker, entries):
    worker, examples = fuzz_worker
    expected = [expected_failure(raw) for raw in entries]
    assume(all(e is not None for e in expected))  # a runnable job would run: not bad input
    example = next(examples)
    failed_before = r.llen("resque:failed")
    processed_before = int(r.get("resque:stat:processed") or 0)
    for i, raw in enumerate(entries):
        enqueue_raw(r, "fuzz", raw)
        enqueue_raw(r, "fuzz", {"class": "Record", "args": ["good", example, i]})
    # The worker takes the queue in order: each good job is performed after the bad entry
    # before it, whose record was written when the good job was reserved.
    for i in range(len(entries)):
        assert pop(r, "test:done", timeout=30)["args"] == ["good", example, i], worker.log[-3000:]
    assert worker.alive(), worker.log[-3000:]
    new = r.lrange("resque:failed", failed_before, -1)
    assert len(new) == len(entries), [x[:200] for x in new]  # one record each, none twice
    for raw, (exception, error, kept_as_object), text in zip(entries, expected, new):
        entry = loads(text)
        assert entry["exception"] == exception, (raw[:100], entry)
        if exception == "forkq.InvalidPayload":
            assert entry["error"] == error, (raw[:100], entry["error"][:300])
        else:
            assert entry["error"].startswith(error), (raw[:100], entry["error"][:300])
        if kept_as_object:
            assert isinstance(entry["payload"], dict), (raw[:100], entry["payload"])
        else:  # not an object: the raw entry kept as text, bad bytes as \xNN
            assert entry["payload"] == wire.display_text(raw), (raw[:100], entry["payload"])
        assert entry["queue"] == "fuzz" and isinstance(entry["backtrace"], list)
    # every entry and good job counted once (the last good job's record follows at once)
    wait_until(lambda: int(r.get("resque:stat:processed")) == processed_before + 2 * len(entries),
               timeout=10, message="stat:processed to count each entry once")
