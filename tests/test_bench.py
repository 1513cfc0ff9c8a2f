"""The benchmark runs (its numbers are not asserted: CI machines are noisy)."""
import json
import os
import subprocess
import sys

from conftest import ROOT


def test_benchmark_smoke(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "--smoke",
                           "--json", str(out)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    for name in ("floor (redis-py, fork)", "forkq fork per job", "forkq --jobs-per-child 100"):
        assert result["drain"][name]["jobs_per_s"] > 0, name
        assert result["drain"][name]["rounds"] == 3
    assert result["latency"]["forkq (forkq.enqueue)"]["samples"] == 3
    assert set(result["queues"]) == {"1 queue", "1,000 queues"}
    assert "jobs/s" in done.stdout and "×floor" in done.stdout
