"""The dashboard tests' fixtures: the app in-process (werkzeug's test client, for the checks
that need no browser) and one headless Chromium per module (Debian's chromium and
chromium-driver, driven by selenium).

Without chromium the browser tests are skipped, except under CI (CI=true), where a missing
browser fails them: tests/run.sh installs it."""
import shutil
import tempfile

import pytest

from webkit import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS, IN_CI, WebProcess


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


@pytest.fixture(scope="module")
def web(redis_server):
    """`forkq web` as a real process, for the browser (one a test module)."""
    server = WebProcess(redis_server.url)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def web_read_only(redis_server):
    server = WebProcess(redis_server.url, "--read-only")
    yield server
    server.stop()
