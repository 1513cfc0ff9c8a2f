"""What the dashboard's tests share besides fixtures (those are in conftest.py): Resque
failure entries, a real `forkq web` process, Chromium's location and switches, screenshots."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from harness import ROOT, free_port, worker_env

IN_CI = bool(os.environ.get("CI"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = os.environ.get("FORKQ_WEB_ARTIFACTS") or os.path.join(ROOT, ".artifacts", "web")

# Without the networking switches Chromium waits on update and sync services it cannot reach.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                  "--window-size=1280,900")


def failure(class_name="Record", args=("x",), queue="webq", error="boom", **extra):
    """A failed entry as Resque::Failure::Redis#save writes it (contract §9.1)."""
    entry = {"failed_at": "2026/11/30 12:00:00 UTC",
             "payload": {"class": class_name, "args": list(args)},
             "exception": "RuntimeError", "error": error,
             "backtrace": ["jobs.py:1:in `perform'"], "worker": "host:1:%s" % queue,
             "queue": queue}
    entry.update(extra)
    return json.dumps(entry, separators=(",", ":"))


class WebProcess:
    """The real `forkq web` (python -m forkq web) on a free loopback port."""

    def __init__(self, url, *args, env=None):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log = tempfile.TemporaryFile()
        cmd = [sys.executable, "-m", "forkq", "web", "--bind", "127.0.0.1:%d" % self.port,
               "--redis-url", url, "--refresh", "0.2"] + list(args)
        self.proc = subprocess.Popen(cmd, env=worker_env(url, env), cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("forkq web did not start:\n" + self.output())
                time.sleep(0.05)

    def output(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def screenshot(driver, name):
    """Kept under .artifacts/web (git-ignored) for a person to look at."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, name + ".png"))
