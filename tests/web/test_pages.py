"""The dashboard in-process (werkzeug's test client against a real redis-server): what each
page reads and shows, the checks every state change passes (CSRF, read-only, auth, the entry
still being the one shown), and pages that stay right with hostile, broken or huge data. The
same behaviour in a real browser is in test_browser.py."""
import json
import re

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from harness import enqueue_raw
from webkit import failure

from forkq.web import create_app
from forkq.web.present import digest

HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"


def forms(html):
    return re.findall(r'<form method="post"', html)


def rows(html, table):
    body = html.split('id="%s"' % table, 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-index="(\d+)"', body)


def test_every_page_renders_and_escapes_what_redis_holds(client, r):
    wid = "host:1:%s" % HOSTILE
    r.sadd("resque:workers", wid)
    r.set("resque:worker:" + wid, json.dumps({"queue": HOSTILE, "run_at": "2026-11-30T12:00:00Z",
                                              "payload": {"class": HOSTILE, "args": [HOSTILE]}}))
    r.set("resque:worker:%s:started" % wid, "2026-11-30 11:00:00 +0000")
    enqueue_raw(r, HOSTILE, {"class": HOSTILE, "args": [HOSTILE]})
    r.rpush("resque:failed", failure(HOSTILE, [HOSTILE], HOSTILE, HOSTILE, exception=HOSTILE,
                                     worker=wid))
    pages = ["/", "/working", "/failed", "/failed/0", "/queues", "/queue?name=" + HOSTILE,
             "/workers", "/worker?id=" + wid, "/stats", "/stats/redis", "/stats/keys",
             "/stats/key?key=failed", "/failed?queue=" + HOSTILE]
    for path in pages:
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, (path, html)
        assert "<script>window" not in html and "<img src=x" not in html, path
        if path not in ("/stats", "/stats/redis"):  # the only pages without a Redis string
            assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html, path
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_pages_stay_right_with_bad_bytes_and_entries_that_are_not_json(client, r):
    r.rpush("resque:failed", b"\xff\xfenot json", b"[1,2]", failure(error="caf\xe9"),
            failure().encode()[:-1] + b',"error2":"\xc3"}')
    r.rpush("resque:failed", json.dumps({"failed_at": "garbage", "payload": "not an object",
                                         "backtrace": "a string", "worker": 42, "queue": 7,
                                         "error": None, "retried_at": {"odd": True}}))
    enqueue_raw(r, "bin", b"\xffraw job")
    enqueue_raw(r, "bin", b'"a string"')
    html = client.get("/failed").get_data(as_text=True)
    assert "\\xff\\xfenot json" in html and "not a JSON object: [1,2]" in html
    assert client.get("/failed/0").status_code == 200
    assert "\\xff\\xfenot json" in client.get("/failed/0").get_data(as_text=True)
    assert client.get("/failed/3").status_code == 200  # invalid UTF-8 inside JSON
    odd = client.get("/failed/4").get_data(as_text=True)
    assert "garbage" in odd and "a string" in odd and "/failed/4/retry" not in odd
    assert "garbage" in client.get("/failed").get_data(as_text=True)
    queue = client.get("/queue?name=bin").get_data(as_text=True)
    assert "not a job: \\xffraw job" in queue and 'not a job: &#34;a string&#34;' in queue
    # an unreadable entry has no Retry button (nothing to retry), only Remove
    assert "/failed/0/retry" not in html and "/failed/0/remove" in html


def test_ten_thousand_failures_page_newest_first_by_their_real_index(client, r):
    r.rpush("resque:failed", *[failure(args=[i], queue="q%d" % (i % 3)) for i in range(10050)])
    first = client.get("/failed").get_data(as_text=True)
    assert rows(first, "failed") == [str(i) for i in range(10049, 10029, -1)]
    assert "page 1 of 503" in first
    last = client.get("/failed?page=503").get_data(as_text=True)
    assert rows(last, "failed") == ["9", "8", "7", "6", "5", "4", "3", "2", "1", "0"]
    assert rows(client.get("/failed?page=999").get_data(as_text=True), "failed")[-1] == "0"
    filtered = client.get("/failed?queue=q1").get_data(as_text=True)
    assert rows(filtered, "failed")[:3] == ["10048", "10045", "10042"]
    older = re.search(r'href="([^"]*before=\d+[^"]*)" rel="next"', filtered).group(1)
    older_rows = rows(client.get(older.replace("&amp;", "&")).get_data(as_text=True), "failed")
    assert older_rows[0] == str(10048 - 3 * 20)


def test_retry_pushes_the_job_and_marks_the_entry_only_if_it_is_the_one_shown(client, r):
    r.rpush("resque:failed", failure(args=["a"]), failure(args=["b"]))
    shown = r.lindex("resque:failed", 1)
    done = client.post_form("/failed/1/retry", {"digest": digest(shown), "back": "/failed"})
    assert done.status_code == 303 and "done=retried" in done.headers["Location"]
    assert r.lrange("resque:queue:webq", 0, -1) == [b'{"class":"Record","args":["b"]}']
    assert "retried_at" in json.loads(r.lindex("resque:failed", 1))
    # The page showed entry 0 as it was; someone removed it and another one moved in.
    stale = digest(r.lindex("resque:failed", 0))
    r.lset("resque:failed", 0, failure(args=["c"]))
    done = client.post_form("/failed/0/retry", {"digest": stale})
    assert "done=changed" in done.headers["Location"]
    assert r.llen("resque:queue:webq") == 1 and "retried_at" not in json.loads(
        r.lindex("resque:failed", 0))
    assert "changed since the page was shown" in client.get(
        done.headers["Location"]).get_data(as_text=True)


def test_retry_onto_another_queue_and_remove_with_the_same_check(client, r):
    r.rpush("resque:failed", failure(args=["a"]), failure(args=["b"]), failure(args=["c"]))
    raw0, raw1 = r.lrange("resque:failed", 0, 1)
    client.post_form("/failed/0/retry", {"digest": digest(raw0), "requeue_to": "other"})
    assert r.lrange("resque:queue:other", 0, -1) == [b'{"class":"Record","args":["a"]}']
    assert client.post_form("/failed/1/remove", {"digest": digest(raw0)}).headers[
        "Location"].endswith("done=changed&n=1")
    assert r.llen("resque:failed") == 3
    client.post_form("/failed/1/remove", {"digest": digest(raw1)})
    assert [json.loads(x)["payload"]["args"] for x in r.lrange("resque:failed", 0, -1)] == [
        ["a"], ["c"]]


def test_clear_deletes_what_the_page_showed_and_keeps_what_came_after(client, r):
    r.rpush("resque:failed", failure(args=[1]), failure(args=[2]))
    html = client.get("/failed").get_data(as_text=True)
    count = re.search(r'name="count" value="(\d+)"', html).group(1)
    shown = re.search(r'name="count" value="\d+"><input type="hidden" name="digest" '
                      r'value="(\w+)"', html).group(1)
    r.rpush("resque:failed", failure(args=[3]))  # a failure arrives while the page is open
    done = client.post_form("/failed/clear", {"count": count, "digest": shown})
    assert "done=cleared&n=2" in done.headers["Location"]
    assert [json.loads(x)["payload"]["args"] for x in r.lrange("resque:failed", 0, -1)] == [[3]]


def test_filtered_retry_all_remove_all_and_clear_retried(client, r):
    r.rpush("resque:failed", failure(args=[1], queue="a"), failure(args=[2], queue="b"),
            failure(args=[3], queue="a", class_name="Other"), failure(args=[4], queue="a"))
    done = client.post_form("/failed/retry-all", {"queue": "a", "class": "Record"})
    assert "done=retried&n=2" in done.headers["Location"]
    assert [json.loads(x)["args"] for x in r.lrange("resque:queue:a", 0, -1)] == [[1], [4]]
    client.post_form("/failed/clear-retried")
    assert [json.loads(x)["payload"]["args"] for x in r.lrange("resque:failed", 0, -1)] == [
        [2], [3]]
    client.post_form("/failed/clear", {"queue": "b"})
    assert [json.loads(x)["payload"]["args"] for x in r.lrange("resque:failed", 0, -1)] == [[3]]


def test_remove_queue_deletes_the_list_and_the_name_only(client, r):
    enqueue_raw(r, "gone", {"class": "Record", "args": [1]})
    enqueue_raw(r, "kept", {"class": "Record", "args": [2]})
    done = client.post_form("/queue/remove", {"name": "gone"})
    assert "done=queue_removed" in done.headers["Location"]
    assert r.smembers("resque:queues") == {b"kept"} and not r.exists("resque:queue:gone")
    assert r.llen("resque:queue:kept") == 1


def test_a_post_without_the_csrf_token_or_from_another_origin_changes_nothing(client, r):
    r.rpush("resque:failed", failure())
    client.get("/")
    token = client.get_cookie("forkq_csrf").value
    assert client.post("/failed/clear-retried").status_code == 403
    refused = client.post("/queue/remove", data={"name": "webq", "csrf": "forged" * 8})
    assert refused.status_code == 403 and "CSRF" in refused.get_data(as_text=True)
    other = client.post("/failed/clear", data={"csrf": token, "count": "1"},
                        headers={"Origin": "http://evil.example"})
    assert other.status_code == 403 and "another origin" in other.get_data(as_text=True)
    proxied = client.post("/failed/clear-retried", data={"csrf": token},
                          headers={"Origin": "https://ops.example", "X-Forwarded-Host":
                                   "ops.example"})
    assert proxied.status_code == 303  # the proxy said which host the browser used
    assert client.get("/failed/0/retry").status_code == 405  # never a state change by GET
    assert r.llen("resque:failed") == 1


def test_read_only_shows_no_action_and_refuses_every_post(url, r):
    r.rpush("resque:failed", failure())
    enqueue_raw(r, "webq", {"class": "Record", "args": []})
    c = Client(create_app(redis_url=url, read_only=True))
    for path in ("/", "/failed", "/failed/0", "/queues", "/queue?name=webq", "/workers"):
        html = c.get(path).get_data(as_text=True)
        assert not forms(html) and not re.search(r"<button[^>]*>(Retry|Remove|Clear)", html), path
    token = c.get_cookie("forkq_csrf").value
    for path in ("/failed/0/retry", "/failed/clear", "/queue/remove"):
        refused = c.post(path, data={"csrf": token, "name": "webq", "count": "1",
                                     "digest": digest(r.lindex("resque:failed", 0))})
        assert refused.status_code == 403 and "read-only" in refused.get_data(as_text=True)
    assert r.llen("resque:failed") == 1 and r.llen("resque:queue:webq") == 1


def test_auth_basic_and_token(url, r, tmp_path):
    secret = tmp_path / "auth"
    secret.write_text("ops:s3cret pass\n")
    c = Client(create_app(redis_url=url, auth_file=str(secret)))
    assert c.get("/").status_code == 401
    assert "Basic" in c.get("/").headers["WWW-Authenticate"]
    assert c.get("/", auth=("ops", "wrong")).status_code == 401
    assert c.get("/", auth=("other", "s3cret pass")).status_code == 401
    assert c.get("/metrics", auth=("ops", "s3cret pass")).status_code == 200
    token = Client(create_app(redis_url=url, auth="t0ken"))
    assert token.get("/metrics", headers={"Authorization": "Bearer t0ken"}).status_code == 200
    assert token.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert token.get("/", auth=("anyone", "t0ken")).status_code == 200


def test_mounted_under_a_prefix_every_link_and_form_carries_it(url, r):
    r.rpush("resque:failed", failure())
    c = Client(DispatcherMiddleware(lambda e, s: [], {"/ops/forkq": create_app(redis_url=url)}))
    html = c.get("/ops/forkq/failed").get_data(as_text=True)
    links = re.findall(r'(?:href|action|src|data-live)="([^"]+)"', html)
    assert links and all(link.startswith("/ops/forkq/") for link in links), links
    assert c.get_cookie("forkq_csrf", path="/ops/forkq") is not None


def test_live_parts_are_small_fragments(client, r):
    enqueue_raw(r, "webq", {"class": "Record", "args": []})
    part = client.get("/?partial=1").get_data(as_text=True)
    assert "<html" not in part and 'data-stat="pending"><b>1</b>' in part
    assert client.get("/failed?partial=1").get_data(as_text=True).startswith("<!doctype html>")


@pytest.mark.parametrize("path", ["/failed/99", "/worker?id=nobody", "/stats/key?key=nokey",
                                  "/nowhere"])
def test_missing_things_are_404_pages(client, path):
    response = client.get(path)
    assert response.status_code == 404 and "<h1>404</h1>" in response.get_data(as_text=True)


def test_a_filter_that_matches_little_reads_a_bounded_part_and_says_where_to_go_on(url, r):
    from forkq.store.admin import Admin
    r.rpush("resque:failed", *[failure(args=[i], queue="rare" if i == 5 else "common")
                               for i in range(1000)])
    failures = Admin(url).failures
    assert failures.scan("rare", budget=300, chunk=100) == ([], 700)
    assert failures.scan("rare", before=700, budget=300, chunk=100) == ([], 400)
    found, more = failures.scan("rare", before=100, budget=300, chunk=100)
    assert [e.index for e in found] == [5] and more is None
    # the matching a page's action uses reads everything, in either order
    assert [e.index for e in failures.matching("common", chunk=300)][:2] == [999, 998]
    assert [e.index for e in failures.matching(
        "common", chunk=300, oldest_first=True)][:6] == [0, 1, 2, 3, 4, 6]
    assert len(list(failures.matching(class_name="Record", chunk=300))) == 1000


def test_the_worker_never_loads_the_dashboard():
    """`forkq work` registers every command at start (load_commands); the web command's module
    must not pull the web extra into the worker, nor so into its fork server and children."""
    import subprocess
    import sys
    from harness import ROOT
    probe = ("import sys; from forkq.cli.app import load_commands; load_commands(); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('werkzeug', 'jinja2', "
             "'waitress', 'prometheus_client', 'selenium') or m.startswith('forkq.web')))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_forkq_web_serves_under_its_prefix_and_refuses_a_secret_in_argv(url, r, tmp_path):
    import subprocess
    import sys
    import urllib.error
    import urllib.request
    from harness import ROOT, worker_env
    from webkit import WebProcess
    web = WebProcess(url, "--prefix", "/ops/forkq/")
    try:
        page = urllib.request.urlopen(web.base + "/ops/forkq/queues", timeout=10).read()
        assert b'href="/ops/forkq/failed"' in page
        try:
            urllib.request.urlopen(web.base + "/queues", timeout=10)
            raise AssertionError("served outside its prefix")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
    finally:
        web.stop()
    assert "http://127.0.0.1:%d/ops/forkq/" % web.port in web.output()
    done = subprocess.run([sys.executable, "-m", "forkq", "web", "--auth", "ops:pw",
                           "--redis-url", url], env=worker_env(url), cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "FORKQ_WEB_AUTH" in done.stderr
    assert "ops:pw" not in done.stderr


def test_an_entry_without_a_queue_is_not_retried_until_given_one(client, r):
    entry = json.loads(failure(args=["lost"]))
    del entry["queue"]
    r.rpush("resque:failed", json.dumps(entry))
    shown = digest(r.lindex("resque:failed", 0))
    done = client.post_form("/failed/0/retry", {"digest": shown, "back": "/failed/0"})
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "was not retried" in page and "use Retry onto another queue" in page
    assert r.smembers("resque:queues") == set()
    client.post_form("/failed/0/retry", {"digest": shown, "requeue_to": "found"})
    assert r.lrange("resque:queue:found", 0, -1) == [b'{"class":"Record","args":["lost"]}']


def test_retry_all_retries_the_entries_the_page_counted(client, r):
    r.rpush("resque:failed", failure(args=[1]), failure(args=[2]))
    count = re.search(r'action="/failed/retry-all".*?name="count" value="(\d+)"',
                      client.get("/failed").get_data(as_text=True), re.S).group(1)
    r.rpush("resque:failed", failure(args=[3]))  # failed after the page was shown
    done = client.post_form("/failed/retry-all", {"count": count})
    assert "done=retried&n=2" in done.headers["Location"]
    assert [json.loads(x)["args"] for x in r.lrange("resque:queue:webq", 0, -1)] == [[1], [2]]


def test_a_key_of_the_wrong_type_is_an_error_page_not_a_crash(client, r):
    r.set("resque:failed", "not a list")
    page = client.get("/failed")
    assert page.status_code == 500 and "WRONGTYPE" in page.get_data(as_text=True)
    assert client.get("/queues").status_code == 500
    assert client.get("/workers").status_code == 200  # the pages that do not read it work


def test_bind_defaults_to_loopback():
    import click
    from forkq.cli.web import parse_bind
    assert parse_bind("5678") == ("127.0.0.1", 5678) == parse_bind(":5678")
    assert parse_bind("[::1]:80") == ("::1", 80)
    assert parse_bind("0.0.0.0:9000") == ("0.0.0.0", 9000)
    with pytest.raises(click.BadParameter):
        parse_bind("localhost:http")


def test_workers_of_several_hosts_are_grouped_by_host(client, r):
    r.sadd("resque:workers", "b-host:2:q", "a-host:1:q", "a-host:3:q")
    html = client.get("/workers").get_data(as_text=True)
    assert "on 2 hosts" in html
    groups = re.findall(r'<tr class="host"><th colspan="10">([^<]+)</th>', html)
    assert groups == ["a-host", "b-host"]
    assert html.index("a-host:3:q") < html.index("b-host</th>") < html.index("b-host:2:q")


def test_a_filtered_page_reads_at_most_its_budget_then_offers_to_keep_looking(client, r):
    from forkq.web.views import FILTER_BUDGET
    total = FILTER_BUDGET + 5000
    entry = failure(queue="common")
    for start in range(0, total, 5000):
        r.rpush("resque:failed", *[entry] * 5000)
    html = client.get("/failed?queue=nosuch").get_data(as_text=True)
    assert "No matches in the entries from #%d down to #%d." % (total - 1, 5000) in html
    assert 'href="/failed?queue=nosuch&amp;before=5000" rel="next"' in html
    rest = client.get("/failed?queue=nosuch&before=5000").get_data(as_text=True)
    assert 'rel="next"' not in rest and "No entries here." in rest


def test_the_keys_page_lists_every_name_exactly_even_one_with_a_newline(client, r):
    r.set("resque:odd\nname", "x")
    r.set(b"resque:bad\xffbytes", "y")
    r.rpush("resque:queue:a", "1")
    for i in range(250):
        r.set("resque:k%03d" % i, i)
    r.set("other:not-ours", 1)
    names = client.application.admin.namespace_key_names()  # SCAN's names, one reply a step
    assert len(names) == 253 and "resque:odd\nname" in names and "resque:bad\ufffdbytes" in names
    assert names == sorted(names) and not any(n.startswith("other:") for n in names)
    page3 = client.get("/stats/keys?page=3").get_data(as_text=True)
    assert "page 3 of 3" in page3 and "k248" in page3 and "odd\nname" in page3
