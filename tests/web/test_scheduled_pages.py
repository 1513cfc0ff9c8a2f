"""The Delayed and Schedules tabs in-process (werkzeug's test client against a real
redis-server): what they read (the same keys `forkq delayed` and `forkq schedule` read and
write, contract §12), their actions' effects and checks, escaping, and read-only. The browser
side is in test_browser_scheduled.py."""
import json
import re

from werkzeug.test import Client

from forkq.web import create_app
from forkq.web.present import digest

HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"
LOCK = "resque:resque:resque_scheduler_master_lock"


def delay(r, ts, *items):
    """Items at epoch second `ts`, as resque-scheduler's delayed_push writes them."""
    raws = [i if isinstance(i, bytes) else json.dumps(i, separators=(",", ":")) for i in items]
    r.rpush("resque:delayed:%d" % ts, *raws)
    r.zadd("resque:delayed_queue_schedule", {str(ts): ts})
    for raw in raws:
        r.sadd(b"resque:timestamps:" + (raw if isinstance(raw, bytes) else raw.encode()),
               "delayed:%d" % ts)
    return raws


def job(args, queue="webq", cls="Record"):
    return {"class": cls, "args": args, "queue": queue}


def schedule(r, name, **config):
    r.hset("resque:persistent_schedules", name, json.dumps(config))


def test_delayed_lists_timestamps_soonest_first_with_counts_and_single_jobs(client, r):
    now = int(r.time()[0])
    delay(r, now + 7200, job([1]), job([2]))
    delay(r, now + 60, job(["only"], cls="Mailer"))
    delay(r, now - 30, job([3]))
    html = client.get("/delayed").get_data(as_text=True)
    assert re.findall(r'<tr data-ts="(\d+)"', html) == [str(now - 30), str(now + 60),
                                                        str(now + 7200)]
    assert "4 jobs at 3 timestamps" in html
    assert "in 1 min" in html and "in 2 h" in html and "30 s ago" in html
    assert "Mailer" in html and '[&#34;only&#34;]' in html and "see all 2" in html
    # due but not moved: the backlog and its lag, and no master to move it
    assert re.search(r"id=.due.>1</b>, the oldest <b id=.lag.>3\d s</b>", html), html.split("<main>")[1][:900]
    assert "No scheduler holds the lock" in html
    one = client.get("/delayed/%d" % (now + 7200)).get_data(as_text=True)
    assert re.findall(r'<tr data-position="(\d)"', one) == ["0", "1"]
    assert client.get("/delayed/%d" % (now + 1)).status_code == 404


def test_delayed_pages_twenty_timestamps_at_a_time(client, r):
    now = int(r.time()[0])
    for i in range(45):
        delay(r, now + 100 + i, job([i]))
    first = client.get("/delayed").get_data(as_text=True)
    assert len(re.findall(r'<tr data-ts=', first)) == 20 and "page 1 of 3" in first
    last = client.get("/delayed?page=9").get_data(as_text=True)  # past the end: the last
    assert re.findall(r'<tr data-ts="(\d+)"', last) == [str(now + 140 + i) for i in range(5)]


def test_remove_takes_off_exactly_the_job_shown(client, r):
    now = int(r.time()[0])
    ts = now + 600
    raws = delay(r, ts, job(["a"]), job(["b"]), job(["c"]))
    shown = digest(raws[1].encode())
    done = client.post_form("/delayed/%d/remove" % ts, {"position": 1, "digest": shown,
                                                         "back": "/delayed/%d" % ts})
    assert "done=delayed_removed" in done.headers["Location"]
    assert r.lrange("resque:delayed:%d" % ts, 0, -1) == [raws[0].encode(), raws[2].encode()]
    assert not r.exists(b"resque:timestamps:" + raws[1].encode())
    # the same form again: the job is gone, nothing else is taken in its place
    again = client.post_form("/delayed/%d/remove" % ts, {"position": 1, "digest": shown})
    assert "delayed_changed" in again.headers["Location"]
    assert r.llen("resque:delayed:%d" % ts) == 2
    # a job that moved within its timestamp is still found by its bytes
    client.post_form("/delayed/%d/remove" % ts, {"position": 1,
                                                 "digest": digest(raws[0].encode())})
    assert r.lrange("resque:delayed:%d" % ts, 0, -1) == [raws[2].encode()]
    # the last one: the timestamp leaves the schedule, and the page goes back to the list
    last = client.post_form("/delayed/%d/remove" % ts, {"position": 0,
                                                        "digest": digest(raws[2].encode())})
    assert last.headers["Location"].startswith("/delayed?")
    assert not r.exists("resque:delayed:%d" % ts)
    assert r.zscore("resque:delayed_queue_schedule", str(ts)) is None


def test_queue_now_moves_a_timestamp_and_an_item_without_queue_goes_to_failed(client, r):
    now = int(r.time()[0])
    ts = now + 3600
    delay(r, ts, job([1]), {"class": "Record", "args": [2]}, job([3], queue="other"))
    done = client.post_form("/delayed/%d/enqueue-now" % ts)
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Queued 2 delayed job(s) of %d now; 1 had no queue and went to failed" % ts in page
    assert r.lrange("resque:queue:webq", 0, -1) == [b'{"class":"Record","args":[1]}']
    assert r.lrange("resque:queue:other", 0, -1) == [b'{"class":"Record","args":[3]}']
    assert json.loads(r.lindex("resque:failed", 0))["exception"] == "Resque::NoQueueError"
    assert not r.exists("resque:delayed_queue_schedule")


def test_clear_drops_every_delayed_job_and_its_index(client, r):
    now = int(r.time()[0])
    delay(r, now + 10, job([1]), job([2]))
    delay(r, now + 20, job([1]))
    html = client.get("/delayed").get_data(as_text=True)
    assert 'data-confirm="Drop all 3 delayed jobs?"' in html
    done = client.post_form("/delayed/clear")
    assert done.headers["Location"] == "/delayed?n=3&done=delayed_cleared"
    assert r.keys("resque:delayed*") == [] and r.keys("resque:timestamps:*") == []


def test_schedules_show_config_last_and_next_fire_and_the_master(client, r):
    now = int(r.time()[0])
    schedule(r, "nightly", cron="0 3 * * *", **{"class": "Report"}, queue="reports",
             args=[{"full": True}], description="the night's report")
    schedule(r, "tick", every="30s", **{"class": "Record"}, queue="webq")
    schedule(r, "broken", cron="not a cron", **{"class": "X"})
    r.hset("resque:delayed:last_enqueued_at", "tick", time_to_s(now - 10))
    r.set(LOCK, "sched-host:4242")
    html = client.get("/schedules").get_data(as_text=True)
    assert re.findall(r'<tr data-name="([^"]+)"', html) == ["broken", "nightly", "tick"]
    row = html.split('data-name="nightly"', 1)[1].split("</tr>", 1)[0]
    assert "cron 0 3 * * *" in row and "Report" in row and "reports" in row
    assert "[{&#34;full&#34;:true}]" in row and "the night&#39;s report" in row
    tick = html.split('data-name="tick"', 1)[1].split("</tr>", 1)[0]
    assert "every 30s" in tick and "10 s ago" in tick and "in 20 s" in tick
    broken = html.split('data-name="broken"', 1)[1].split("</tr>", 1)[0]
    assert "bad cron expression" in broken and "/schedules/enqueue-now" not in broken
    assert 'id="master">sched-host:4242</b>' in html


def time_to_s(epoch):
    from forkq.wire.scheduler import ruby_time_to_s
    return ruby_time_to_s(epoch)


def test_schedule_remove_and_queue_now(client, r):
    schedule(r, "tick", every="30s", **{"class": "Record"}, queue="webq", args=[1, "x"])
    schedule(r, "noqueue", every="1m", **{"class": "Unknown"})
    done = client.post_form("/schedules/enqueue-now", {"name": "tick"})
    assert "done=schedule_queued" in done.headers["Location"]
    assert r.lrange("resque:queue:webq", 0, -1) == [b'{"class":"Record","args":[1,"x"]}']
    assert r.sismember("resque:queues", "webq")
    assert not r.hexists("resque:delayed:last_enqueued_at", "tick")  # the master's, not ours
    refused = client.post_form("/schedules/enqueue-now", {"name": "noqueue"})
    page = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Nothing queued: schedule noqueue" in page and "No queue could be inferred" in page
    done = client.post_form("/schedules/remove", {"name": "tick"})
    assert "done=schedule_removed" in done.headers["Location"]
    assert r.hkeys("resque:persistent_schedules") == [b"noqueue"]
    assert r.smembers("resque:schedules_changed") == {b"tick"}  # a master reloads it
    gone = client.post_form("/schedules/remove", {"name": "tick"})
    assert "done=no_schedule" in gone.headers["Location"]


def test_hostile_items_and_schedules_render_as_text(client, r):
    now = int(r.time()[0])
    delay(r, now + 50, job([HOSTILE], queue=HOSTILE, cls=HOSTILE))
    delay(r, now + 60, job([HOSTILE], queue=HOSTILE, cls=HOSTILE), b"\xff<b>not json")
    delay(r, now + 70, {"class": {"x": HOSTILE}, "args": HOSTILE, "queue": 7})
    schedule(r, HOSTILE, every="1h", **{"class": HOSTILE}, queue=HOSTILE, args=[HOSTILE],
             description=HOSTILE)
    r.set(LOCK, HOSTILE)
    for path in ("/delayed", "/delayed/%d" % (now + 50), "/delayed/%d" % (now + 60),
                 "/delayed/%d" % (now + 70), "/schedules", "/"):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, (path, html)
        assert "<script>window" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html, path
    assert "\\xff&lt;b&gt;not json" in client.get("/delayed/%d" % (now + 60)).get_data(
        as_text=True)


def test_read_only_shows_no_action_and_refuses_every_post(url, r):
    now = int(r.time()[0])
    delay(r, now + 50, job([1]))
    schedule(r, "tick", every="30s", **{"class": "Record"}, queue="webq")
    c = Client(create_app(redis_url=url, read_only=True))
    for path in ("/delayed", "/delayed/%d" % (now + 50), "/schedules"):
        html = c.get(path).get_data(as_text=True)
        assert '<form method="post"' not in html and "<button" not in html, path
    token = c.get_cookie("forkq_csrf").value
    for path in ("/delayed/%d/remove" % (now + 50), "/delayed/%d/enqueue-now" % (now + 50),
                 "/delayed/clear", "/schedules/remove", "/schedules/enqueue-now"):
        assert c.post(path, data={"csrf": token, "name": "tick"}).status_code == 403, path
    assert r.llen("resque:delayed:%d" % (now + 50)) == 1
    assert r.hlen("resque:persistent_schedules") == 1 and not r.exists("resque:queue:webq")


def test_a_post_without_the_csrf_token_changes_nothing(client, r):
    schedule(r, "tick", every="30s", **{"class": "Record"}, queue="webq")
    client.get("/")
    assert client.post("/schedules/remove", data={"name": "tick"}).status_code == 403
    assert client.post("/delayed/clear", data={"csrf": "guess"}).status_code == 403
    assert r.hlen("resque:persistent_schedules") == 1


def test_overview_and_nav_carry_the_delayed_totals_and_next_due(client, r):
    now = int(r.time()[0])
    delay(r, now + 120, job([1]), job([2]))
    schedule(r, "tick", every="30s", **{"class": "Record"}, queue="webq")
    html = client.get("/").get_data(as_text=True)
    assert 'href="/delayed"' in html and 'href="/schedules"' in html
    line = html.split('id="scheduling"', 1)[1].split("</p>", 1)[0]
    assert "2 delayed jobs" in line and "in 2 min" in line and "1 schedule<" in line
    assert 'data-stat="delayed"><b>2</b>' in html


def test_metrics_count_the_schedules_beside_the_delayed_jobs(client, r):
    from prometheus_client.parser import text_string_to_metric_families
    now = int(r.time()[0])
    delay(r, now - 5, job([1]), job([2]))
    delay(r, now + 60, job([3]))
    schedule(r, "a", every="1m", **{"class": "Record"}, queue="webq")
    schedule(r, "b", every="1m", **{"class": "Record"}, queue="webq")
    text = client.get("/metrics").get_data(as_text=True)
    got = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
           if not s.labels}
    assert got["forkq_schedules"] == 2 and got["forkq_delayed_jobs"] == 3
    assert got["forkq_delayed_due_jobs"] == 2 and 4 <= got["forkq_scheduler_lag_seconds"] <= 7


def test_next_fire_counts_from_the_last_fire_as_the_master_does():
    """`forkq schedule list` and the Schedules tab share listing(): an every-30s schedule
    fired 10 s ago fires next in 20 s (it showed now + 29 before), and one never fired or
    whose next slot has passed (no master ran) counts from now, as a new master does."""
    from forkq.scheduler.schedules import listing
    now = 1_800_000_000
    raw = b'{"every":"30s","class":"Record","queue":"webq"}'
    rows = listing({b"recent": (raw, time_to_s(now - 10).encode()),
                    b"stale": (raw, time_to_s(now - 3600).encode()),
                    b"never": (raw, None)}, now)
    nxt = {row["name"]: row["next"] for row in rows}
    assert nxt == {"recent": time_to_s(now + 20), "stale": time_to_s(now + 30),
                   "never": time_to_s(now + 30)}


def test_a_lock_prefix_from_the_environment_names_the_master_everywhere(url, r, monkeypatch):
    """RESQUE_SCHEDULER_MASTER_LOCK_PREFIX (or FORKQ_LOCK_PREFIX), as `forkq scheduler`
    reads it: the pages and /metrics look for the lock where the scheduler holds it."""
    monkeypatch.setenv("RESQUE_SCHEDULER_MASTER_LOCK_PREFIX", "MyApp")
    r.set("resque:resque:MyApp:resque_scheduler_master_lock", "sched-host:7")
    c = Client(create_app(redis_url=url))
    assert 'id="master">sched-host:7</b>' in c.get("/schedules").get_data(as_text=True)
    assert 'forkq_scheduler_master{holder="sched-host:7"} 1.0' in c.get(
        "/metrics").get_data(as_text=True)
    assert "scheduler master <span class=\"mono\">sched-host:7" in c.get("/").get_data(
        as_text=True)


def test_who_schedules_and_the_backlog_refresh_live(client, r):
    now = int(r.time()[0])
    for path in ("/delayed", "/schedules"):
        html = client.get(path).get_data(as_text=True)
        assert 'data-live="%s?partial=1"' % path in html, path
    assert 'id="master">none</b>' in client.get("/delayed?partial=1").get_data(as_text=True)
    r.set(LOCK, "sched-host:1")
    delay(r, now - 3, job([1]))
    for path in ("/delayed?partial=1", "/schedules?partial=1"):
        part = client.get(path).get_data(as_text=True)
        assert "<html" not in part and "<table" not in part, path
        assert 'id="master">sched-host:1</b>' in part and 'id="due">1</b>' in part, path
