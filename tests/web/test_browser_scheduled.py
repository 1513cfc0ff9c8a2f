"""The Delayed and Schedules tabs in a real browser (headless Chromium, selenium) against a
real `forkq web` and redis-server: a delayed job queued now from the page is performed by a
real `forkq work`; Remove takes off what it says; read-only shows no button; a hostile
delayed item or schedule shows as text and runs nothing. One browser for the module."""
import json

from selenium.webdriver.common.by import By

from harness import pop
from test_browser import click, notice, status
from test_scheduled_pages import HOSTILE, LOCK, delay, job, schedule
from webkit import screenshot


def test_queue_now_clicked_in_the_page_is_performed_by_a_real_worker(browser, web, r,
                                                                    spawn_worker):
    now = int(r.time()[0])
    ts = now + 3600
    delay(r, ts, job(["from-delayed"]))
    delay(r, ts + 60, job(["stays"]))
    browser.get(web.base + "/delayed")
    screenshot(browser, "delayed")
    click(browser, 'tr[data-ts="%d"] form[action$="/enqueue-now"] button' % ts)
    assert "Queued 1 delayed job(s) of %d now." % ts in notice(browser)
    assert r.lrange("resque:queue:webq", 0, -1) == [b'{"class":"Record","args":["from-delayed"]}']
    assert r.zrange("resque:delayed_queue_schedule", 0, -1) == [str(ts + 60).encode()]
    spawn_worker("-q", "webq", "--interval", "0.1")
    assert pop(r, "test:done")["args"] == ["from-delayed"]


def test_remove_a_delayed_job_and_a_schedule(browser, web, r):
    now = int(r.time()[0])
    ts = now + 600
    raws = delay(r, ts, job(["a"]), job(["b"]))
    browser.get(web.base + "/delayed/%d" % ts)
    screenshot(browser, "delayed_one")
    click(browser, 'tr[data-position="1"] form[action$="/remove"] button', confirm=True)
    assert "Removed 1 delayed job(s) due at %d" % ts in notice(browser)
    assert r.lrange("resque:delayed:%d" % ts, 0, -1) == [raws[0].encode()]
    schedule(r, "tick", every="30s", **{"class": "Record"}, queue="webq")
    schedule(r, "nightly", cron="0 3 * * *", **{"class": "Report"}, queue="reports")
    browser.get(web.base + "/schedules")
    screenshot(browser, "schedules")
    click(browser, 'tr[data-name="tick"] form[action$="/schedules/remove"] button',
          confirm=True)
    assert "Removed schedule tick." in notice(browser)
    assert r.hkeys("resque:persistent_schedules") == [b"nightly"]
    assert browser.find_elements(By.CSS_SELECTOR, 'tr[data-name="nightly"]')
    assert not browser.find_elements(By.CSS_SELECTOR, 'tr[data-name="tick"]')


def test_read_only_shows_no_action_on_the_scheduler_tabs(browser, web_read_only, r):
    now = int(r.time()[0])
    delay(r, now + 50, job([1]))
    schedule(r, "tick", every="30s", **{"class": "Record"}, queue="webq")
    for path in ("/delayed", "/delayed/%d" % (now + 50), "/schedules"):
        browser.get(web_read_only.base + path)
        assert status(browser) == 200, path
        assert not browser.find_elements(By.CSS_SELECTOR, "main form, main button"), path
    screenshot(browser, "read_only_schedules")


def test_a_hostile_delayed_item_and_schedule_show_as_text(browser, web, r):
    now = int(r.time()[0])
    delay(r, now + 50, job([HOSTILE], queue=HOSTILE, cls=HOSTILE))
    delay(r, now + 60, job([HOSTILE], queue=HOSTILE, cls=HOSTILE), json.dumps(HOSTILE).encode())
    schedule(r, HOSTILE, every="1h", **{"class": HOSTILE}, queue=HOSTILE, args=[HOSTILE],
             description=HOSTILE)
    r.set(LOCK, HOSTILE)  # the master's name, as anyone with Redis access may write it
    for path in ("/delayed", "/delayed/%d" % (now + 60), "/schedules", "/"):
        browser.get(web.base + path)
        assert browser.execute_script("return window.__pwned === undefined"), path
        assert not browser.find_elements(By.CSS_SELECTOR, "main img, main script"), path
        assert "<script>window.__pwned=1</script>" in browser.find_element(
            By.TAG_NAME, "main").text, path
