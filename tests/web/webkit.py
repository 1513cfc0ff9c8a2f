"""Helpers and fixtures of the dashboard's tests (imported by them): Resque failure entries,
the app in-process (werkzeug's test client, for the checks that need no browser), a real
`forkq web` process, and one headless Chromium per module (Debian's chromium and
chromium-driver, driven by selenium).

Without chromium the browser tests are skipped, except under CI (CI=true), where a missing
browser fails them: tests/run.sh installs it."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

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


@pytest.fixture
def client(url, r):
    """The app in-process, and a POST helper that carries the CSRF cookie's token."""
    from werkzeug.test import Client
    from forkq.web import create_app
    c = Client(create_app(redis_url=url))

    def post(path, data=None, **kw):
        if c.get_cookie("forkq_csrf") is None:
            c.get("/")
        data = dict(data or {})
        data.setdefault("csrf", c.get_cookie("forkq_csrf").value)
        return c.post(path, data=data, **kw)

    c.post_form = post
    return c


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


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        message = ("chromium and chromium-driver are not installed: tests/run.sh installs "
                   "them with apt-get")
        if IN_CI:
            pytest.fail("CI is set but " + message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="forkq-chromium-")
    for flag in CHROMIUM_FLAGS + ("--user-data-dir=" + profile,):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name):
    """Kept under .artifacts/web (git-ignored) for a person to look at."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, name + ".png"))
