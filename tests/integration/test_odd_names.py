"""Any queue name Redis holds, however odd, is shown safely in the process title and never ends
the worker (issue 12 case 6: a NUL byte in a queue name ended a `*` worker with exit 70)."""
from harness import enqueue_raw, pop, wait_until

from forkq.proc import titles as titles_mod

ODD = ["nul\x00byte", "line\nbreak", "bell\x07", "sep\u2028", "\x1b[31mred"]


def title_of(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as fh:
        return fh.read().replace(b"\x00", b" ").decode("utf-8", "replace")


def test_shown_escapes_what_a_title_cannot_carry():
    shown, Titles = titles_mod.shown, titles_mod.Titles
    assert shown("nul\x00byte") == "nul\\x00byte"
    assert shown("bad\udcffutf8") == "bad\\udcffutf8"
    assert shown("sep\u2028") == "sep\\u2028"
    assert shown("café,критичные") == "café,критичные"
    titles = Titles("pre\x00fix ")
    for name in ODD + ["bad\udcffutf8"]:  # none raises
        titles.waiting([name, "default"])
        titles.processing(name, 0, name)


def test_a_wildcard_worker_serves_queues_with_odd_names(r, spawn_worker):
    worker = spawn_worker("-q", "*", "--interval", "0.1")
    for name in ODD + ["plain"]:
        enqueue_raw(r, name, {"class": "Record", "args": [name]})
    want = ODD + ["plain"]
    got = sorted(pop(r, "test:done", timeout=20)["args"][0] for _ in want)
    assert got == sorted(want)
    # idle now: the title lists every queue of the plan, escaped, and the worker is alive
    wait_until(lambda: "Waiting for" in title_of(worker.pid), 10, "the idle title")
    assert worker.alive(), worker.log
    assert "nul\\x00byte" in title_of(worker.pid)
    assert "line\\x0abreak" in title_of(worker.pid)
    assert r.llen("resque:failed") == 0
