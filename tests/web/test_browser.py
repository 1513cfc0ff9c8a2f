"""The dashboard in a real browser: headless Chromium (Debian's chromium + chromium-driver,
driven by selenium) against a real `forkq web` process and redis-server, and a real
`forkq work` that performs what the page retried. One browser for the module; screenshots of
every view go to .artifacts/web/ (git-ignored) for a person to look at."""
import base64
import json
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from harness import enqueue_raw, pop
from webkit import WebProcess, failure, screenshot

HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"


@pytest.fixture(scope="module")
def web_auth(redis_server):
    server = WebProcess(redis_server.url, env={"FORKQ_WEB_AUTH": "ops:corr3ct horse"})
    yield server
    server.stop()


def wait_for(driver, predicate, message, timeout=10):
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: predicate(d), message)


def notice(driver):
    return wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice"),
                    "a notice after the action")[0].text


def click(driver, css, confirm=False):
    driver.find_element(By.CSS_SELECTOR, css).click()
    if confirm:
        wait_for(driver, lambda d: _alert(d), "the confirmation dialog").accept()


def _alert(driver):
    try:
        return driver.switch_to.alert
    except Exception:
        return None


def read(driver, css, attribute="textContent"):
    """An element's text (or attribute) read in one step: the live parts replace theirs
    every 0.2 s, so a found element may be gone by the time selenium asks it anything."""
    return driver.execute_script(
        "var e = document.querySelector(arguments[0]); return e && e[arguments[1]];",
        css, attribute)


def status(driver):
    return driver.execute_script(
        "var n = performance.getEntriesByType('navigation')[0]; return n && n.responseStatus")


def args_of(r):
    return [json.loads(x)["payload"]["args"] for x in r.lrange("resque:failed", 0, -1)]


def test_retry_clicked_in_the_page_is_performed_by_a_real_worker(browser, web, r,
                                                                  spawn_worker):
    r.rpush("resque:failed", failure("Record", ["from-web"], "webq"),
            failure("Record", ["stays"], "webq"))
    browser.get(web.base + "/failed")
    screenshot(browser, "failed")
    click(browser, 'tr[data-index="0"] form[action$="/retry"] button')
    assert "Retried 1 failed job(s) onto webq" in notice(browser)
    assert "retried" in browser.find_element(By.CSS_SELECTOR, 'tr[data-index="0"]').text
    assert "retried" not in browser.find_element(By.CSS_SELECTOR, 'tr[data-index="1"]').text
    spawn_worker("-q", "webq", "--interval", "0.1")
    assert pop(r, "test:done")["args"] == ["from-web"]
    browser.get(web.base + "/failed/1")
    screenshot(browser, "failed_one")
    browser.find_element(By.CSS_SELECTOR, '#requeue input[name="requeue_to"]').send_keys("other")
    click(browser, "#requeue button")
    assert "onto other" in notice(browser)
    assert r.lrange("resque:queue:other", 0, -1) == [b'{"class":"Record","args":["stays"]}']


def test_remove_and_clear_change_exactly_what_they_say(browser, web, r):
    r.rpush("resque:failed", *[failure(args=[name]) for name in "abc"])
    enqueue_raw(r, "webq", {"class": "Record", "args": ["waiting"]})
    browser.get(web.base + "/failed")
    click(browser, 'tr[data-index="1"] form[action$="/remove"] button')
    assert "Removed 1" in notice(browser)
    assert args_of(r) == [["a"], ["c"]]
    r.rpush("resque:failed", failure(args=["arrived later"]))  # not on the page the user sees
    click(browser, '#bulk form[action$="/failed/clear"] button', confirm=True)
    assert "Cleared 2" in notice(browser)
    assert args_of(r) == [["arrived later"]]
    assert r.llen("resque:queue:webq") == 1  # Clear touched the failed list only
    browser.get(web.base + "/queue?name=webq")
    screenshot(browser, "queue")
    click(browser, 'form[action$="/queue/remove"] button', confirm=True)
    assert "Removed queue webq and its 1 job(s)" in notice(browser)
    assert not r.exists("resque:queue:webq") and not r.sismember("resque:queues", "webq")
    assert r.llen("resque:failed") == 1


def test_a_hostile_payload_shows_as_text_and_runs_nothing(browser, web, r):
    wid = "evil-host:4242:" + HOSTILE
    r.sadd("resque:workers", wid)
    r.set("resque:worker:" + wid, json.dumps({"queue": HOSTILE, "run_at": "2026-11-30T12:00:00Z",
                                              "payload": {"class": HOSTILE, "args": [HOSTILE]}}))
    enqueue_raw(r, HOSTILE, {"class": HOSTILE, "args": [HOSTILE]})
    r.rpush("resque:failed", failure(HOSTILE, [HOSTILE], HOSTILE, HOSTILE, exception=HOSTILE,
                                     worker=wid, backtrace=[HOSTILE]))
    for path in ("/", "/failed", "/failed/0", "/workers", "/queues", "/stats/keys"):
        browser.get(web.base + path)
        assert browser.execute_script("return window.__pwned === undefined"), path
        assert not browser.find_elements(By.CSS_SELECTOR, "main img, main script"), path
        assert "<script>window.__pwned=1</script>" in browser.find_element(
            By.TAG_NAME, "main").text, path
        if path == "/failed/0":
            screenshot(browser, "hostile_failed_one")


def test_the_pages_refresh_themselves_and_times_read_relative(browser, web, r):
    now = int(r.time()[0])
    wid = "box:77:webq"
    r.sadd("resque:workers", wid)
    r.set("resque:worker:%s:started" % wid, time.strftime("%Y-%m-%d %H:%M:%S +0000",
                                                          time.gmtime(now - 3 * 3600)))
    r.set("resque:worker:" + wid, json.dumps({
        "queue": "webq", "run_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 90)),
        "payload": {"class": "Record", "args": []}}))
    browser.get(web.base + "/")
    browser.execute_script("window.__same_page = true")
    pending = '#numbers [data-stat="pending"] b'
    assert read(browser, pending) == "0"
    for i in range(3):
        enqueue_raw(r, "webq", {"class": "Record", "args": [i]})
    wait_for(browser, lambda d: read(d, pending) == "3",
             "the Overview's live part to show 3 pending")
    assert browser.execute_script("return window.__same_page === true")  # no reload
    assert read(browser, "#working time") == "1 min ago"
    title = read(browser, "#working time", "title")  # the viewer's zone, not the ISO text
    assert title and "T" not in title and "Z" not in title
    screenshot(browser, "overview")
    for path, name in (("/working", "working"), ("/workers", "workers"),
                       ("/worker?id=" + wid, "worker"), ("/queues", "queues"),
                       ("/stats", "stats"), ("/stats/redis", "stats_redis"),
                       ("/stats/keys", "stats_keys"), ("/stats/key?key=queue:webq", "stats_key")):
        browser.get(web.base + path)
        assert status(browser) == 200, path
        screenshot(browser, name)
    browser.get(web.base + "/worker?id=" + wid)
    assert "3 h ago" in read(browser, "#worker")


def test_read_only_shows_no_action_and_refuses_a_post(browser, web_read_only, r):
    r.rpush("resque:failed", failure())
    enqueue_raw(r, "webq", {"class": "Record", "args": []})
    for path in ("/failed", "/failed/0", "/queue?name=webq"):
        browser.get(web_read_only.base + path)
        assert not browser.find_elements(By.CSS_SELECTOR, 'form[method="post"]'), path
        assert [b.text for b in browser.find_elements(By.CSS_SELECTOR, "main button")] in (
            [], ["Filter"]), path
    screenshot(browser, "read_only_failed")
    browser.execute_script("""
        var f = document.createElement('form'); f.method = 'post';
        f.action = '/failed/clear-retried'; document.body.appendChild(f); f.submit();""")
    wait_for(browser, lambda d: d.find_elements(By.ID, "error-message"), "the refusal")
    assert status(browser) == 403
    assert "runs read-only" in browser.find_element(By.ID, "error-message").text
    assert r.llen("resque:failed") == 1 and r.llen("resque:queue:webq") == 1


def test_a_wrong_password_is_refused(browser, web_auth, r):
    def login(secret):
        header = "Basic " + base64.b64encode(secret.encode()).decode()
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                                {"headers": {"Authorization": header}})
        browser.get(web_auth.base + "/")

    browser.execute_cdp_cmd("Network.enable", {})
    try:
        login("ops:wrong")
        assert status(browser) == 401 and not browser.find_elements(By.TAG_NAME, "main")
        login("ops:corr3ct horse")
        assert status(browser) == 200 and browser.find_element(By.TAG_NAME, "h1").text == \
            "Overview"
    finally:
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})


def test_a_forged_post_is_refused(browser, web, r):
    r.rpush("resque:failed", failure(args=["kept"]))
    # Same page, token tampered with: the form's token no longer matches the cookie's.
    browser.get(web.base + "/failed")
    browser.execute_script(
        "document.querySelector('tr[data-index=\"0\"] form[action$=\"/remove\"] "
        "input[name=csrf]').value = 'forged-forged-forged-forged-forged-forged';")
    click(browser, 'tr[data-index="0"] form[action$="/remove"] button')
    wait_for(browser, lambda d: "CSRF token" in d.page_source, "the CSRF refusal")
    assert status(browser) == 403
    # Another site's page posting here: no token it could know, and no cookie sent with it.
    browser.get("data:text/html,<form method=post action='%s/failed/0/remove'>"
                "<input name=csrf value=guess><input name=digest value=x></form>"
                "<script>document.forms[0].submit()</script>" % web.base)
    wait_for(browser, lambda d: d.current_url.startswith(web.base), "the forged POST")
    wait_for(browser, lambda d: "CSRF token" in d.page_source, "the CSRF refusal")
    assert args_of(r) == [["kept"]]
