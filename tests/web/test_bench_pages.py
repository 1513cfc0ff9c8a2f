"""bench/web_pages.py still runs (smoke mode: a tiny installation, 2 fetches a page). Its
figures are not measurements; `python bench/web_pages.py` makes those."""
import json
import os
import subprocess
import sys

from harness import ROOT


def test_the_page_benchmark_runs_every_page(tmp_path):
    out = tmp_path / "web.json"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "web_pages.py"),
                           "--smoke", "--json", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())
    assert figures["failed"] == 200 and len(figures["http"]) == len(figures["in_process"]) == 22
    assert all(m["median_ms"] > 0 for m in figures["http"].values())
