"""Bad input never crashes the worker: each malformed entry ends as exactly one `failed` entry
that says what was wrong, and good jobs queued after them are performed.

Mechanisms proven: protocol.decode_payload's checks, the reserve script quoting a non-object
entry in the claim (worker:<id> is always valid JSON), the registry lookup (UnknownJob), and the
child's report of the job's own exception (wrong arity)."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import enqueue_raw, pop

BIG = "x" * (10 * 1024 * 1024)

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
        entry = json.loads(failed)
        assert words in entry["error"], (raw[:80], entry["error"][:300])
        assert isinstance(entry["backtrace"], list) and entry["queue"] == "default"
        if not raw.lstrip().startswith(b"{") or words.startswith(("not valid", "nested")):
            assert isinstance(entry["payload"], str)  # the raw text kept when not an object
    done = [pop(r, "test:done")["args"] for _ in range(len(CORPUS) + 2)]
    assert [d[0] for d in done[:len(CORPUS)]] == list(range(len(CORPUS)))
    assert done[-2][0] == len(BIG) and len(done[-2][1]) == len(BIG)
    assert done[-1] == [10 ** 400]
    assert r.get("resque:stat:processed") == str(2 * len(CORPUS) + 2).encode()


payload_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() |
                 st.text(max_size=20),
                 lambda kids: st.lists(kids, max_size=4) |
                 st.dictionaries(st.sampled_from(["class", "args", "queue", "x"]), kids,
                                 max_size=4),
                 max_leaves=12).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(payload_bytes, min_size=20, max_size=40))
def test_fuzzed_entries_each_end_in_exactly_one_record(r, spawn_worker, entries):
    r.flushall()
    for raw in entries:
        enqueue_raw(r, "fuzz", raw)
    enqueue_raw(r, "fuzz", {"class": "Record", "args": ["after the fuzz"]})
    worker = spawn_worker("-q", "fuzz", "--burst")
    assert worker.wait(60) == 0, worker.log[-2000:]
    assert pop(r, "test:done")["args"] == ["after the fuzz"]
    failed = [json.loads(x) for x in r.lrange("resque:failed", 0, -1)]
    performed = r.llen("test:done")
    assert len(failed) + performed == len(entries)  # none lost, none recorded twice
    assert r.get("resque:stat:processed") == str(len(entries) + 1).encode()
    for entry in failed:
        assert entry["error"] and isinstance(entry["backtrace"], list)
