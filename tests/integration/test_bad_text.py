"""Text that is not valid UTF-8, from a job or a producer, never stops the worker and never
reaches Redis as invalid UTF-8."""
import json

from harness import enqueue_raw, pop, registered_id, wait_until


def test_a_failure_whose_text_is_not_utf8_is_recorded_and_the_worker_goes_on(r, spawn_worker):
    enqueue_raw(r, "default", {"class": "BadFileName", "args": ["bad"]})
    enqueue_raw(r, "default", {"class": "Record", "args": ["after"]})
    worker = spawn_worker("-q", "default", "-r", "workerjobs", "-r", "jobs_w1")
    pop(r, "test:started", timeout=20)
    assert pop(r, "test:done", timeout=20)["args"] == ["after"]
    wid = registered_id(r, worker.pid)
    raw = r.lindex("resque:failed", 0)
    entry = json.loads(raw.decode("utf-8"))  # strict UTF-8
    assert entry["exception"] == "ValueError" and entry["error"] == "cannot read ?.txt"
    assert entry["worker"] == wid and entry["payload"]["class"] == "BadFileName"
    assert worker.alive() and "Failed to start worker" not in worker.log
    wait_until(lambda: r.get("resque:worker:" + wid) is None, 20, "the last job's record")
    assert r.get("resque:stat:processed") == b"2" and r.get("resque:stat:failed") == b"1"
    assert "\\udcfe.txt" in worker.log  # the log line says what the job said
