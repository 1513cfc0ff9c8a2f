"""JSON only, registered names only, TLS and ACL URLs, and no password anywhere it could leak."""
import os
import re
import shutil
import subprocess

import pytest
from harness import (
    ROOT,
    RedisServer,
    enqueue_raw,
    failures,
    pop,
    registered_id,
    wait_until,
)

FORKQ = os.path.join(ROOT, "forkq")


def test_no_pickle_and_no_import_by_name_anywhere_in_forkq():
    checked = 0
    for folder, _dirs, files in os.walk(FORKQ):
        for name in (f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            name = os.path.relpath(path, FORKQ)
            text = open(path).read()
            assert not re.search(r"^\s*(import|from)\s+(c?pickle|marshal|shelve)\b", text,
                                 re.M), name
            assert "__import__(" not in text and "eval(" not in text, name
            # the operator's --require, the CLI's own table, the web extra's fixed names,
            # the package's own names loaded on first use (PEP 562)
            if "import_module(" in text:
                assert name in ("cli/requires.py", "cli/app.py", "cli/web.py",
                                "__init__.py"), name
            checked += 1
    assert checked > 40  # every subpackage, not only the top level


def test_payload_naming_a_callable_is_refused(r, spawn_worker, tmp_path):
    target = tmp_path / "pwned"
    enqueue_raw(r, "default", {"class": "os.system", "args": ["touch %s" % target]})
    enqueue_raw(r, "default", {"class": "subprocess.call", "args": [["touch", str(target)]]})
    worker = spawn_worker("-q", "default", "--burst")
    assert worker.wait(20) == 0
    assert [e["exception"] for e in failures(r)] == ["forkq.UnknownJob"] * 2
    assert not target.exists()


@pytest.fixture
def acl_url(redis_server, r):
    r.execute_command("ACL", "SETUSER", "forkq-user", "on", ">s3cret-Pa55", "~*", "&*", "+@all")
    yield "redis://forkq-user:s3cret-Pa55@127.0.0.1:%d/0" % redis_server.port
    r.execute_command("ACL", "DELUSER", "forkq-user")


def test_acl_user_and_password_url_works_and_the_password_never_shows(r, spawn_worker, acl_url):
    enqueue_raw(r, "default", {"class": "Record", "args": ["via acl"]})
    enqueue_raw(r, "default", {"class": "Sleep", "args": [30, "acl"]})
    worker = spawn_worker("-q", "default", "-v", url_override=acl_url)
    assert pop(r, "test:done")["args"] == ["via acl"]
    pop(r, "test:started")
    registered_id(r, worker.pid)
    titles = [open("/proc/%d/cmdline" % p).read() for p in _tree(worker.pid)]
    worker.stop()
    for text in titles + [worker.log] + [x.decode() for x in r.lrange("resque:failed", 0, -1)]:
        assert "s3cret-Pa55" not in text
    assert "forkq-user:***@" in worker.log


def _tree(pid):
    import psutil
    proc = psutil.Process(pid)
    return [pid] + [c.pid for c in proc.children(recursive=True)]


@pytest.fixture
def tls_server(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a certificate for the TLS test")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = RedisServer(extra=["--port", "0", "--tls-port", "{port}", "--tls-cert-file",
                                str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file",
                                str(cert), "--tls-auth-clients", "no"],
                         tls_ca=str(cert))
    yield server, cert
    server.cleanup()


def test_rediss_tls_url_works(tls_server, spawn_worker):
    server, cert = tls_server
    client = server.client()
    client.sadd("resque:queues", "default")
    client.rpush("resque:queue:default", '{"class":"Record","args":["over tls"]}')
    url = "rediss://127.0.0.1:%d/0?ssl_ca_certs=%s" % (server.port, cert)
    worker = spawn_worker("-q", "default", "--burst", url_override=url,
                          env={"FORKQ_TEST_REDIS_URL": url})
    assert worker.wait(20) == 0, worker.log
    assert client.lrange("test:done", 0, -1)
    assert client.get("resque:stat:processed") == b"1"


@pytest.fixture
def no_channels_url(redis_server, r):
    # Redis 7's default for new users (acl-pubsub-default resetchannels): keys and commands,
    # but no pub/sub channel at all.
    r.execute_command("ACL", "SETUSER", "forkq-nochan", "on", ">n0-Chan", "~*", "resetchannels",
                      "+@all")
    yield "redis://forkq-nochan:n0-Chan@127.0.0.1:%d/0" % redis_server.port
    r.execute_command("ACL", "DELUSER", "forkq-nochan")


def test_acl_user_without_channel_permission_polls_instead_of_dying(r, spawn_worker,
                                                                     no_channels_url):
    worker = spawn_worker("-q", "default", "--interval", "0.2", url_override=no_channels_url)
    registered_id(r, worker.pid, timeout=20)
    # the first idle wait reads the refused SUBSCRIBE: the worker says so once and keeps going
    waited = wait_until(lambda: "wake-ups" in worker.log or not worker.alive(), 20,
                        "the worker to report the refused subscription")
    assert waited and worker.alive(), worker.log
    r.sadd("resque:queues", "default")
    r.rpush("resque:queue:default", '{"class":"Record","args":["polled"]}')
    assert pop(r, "test:done", timeout=20)["args"] == ["polled"]
    assert worker.alive()
    assert worker.log.count("wake-ups") == 1, worker.log
    worker.stop()  # before the fixture's DELUSER cuts its connections
    assert worker.proc.returncode == 0


def test_a_password_on_argv_is_hidden_before_the_app_imports(url, tmp_path):
    """`ps` shows argv until the title is set; the title is set before --require modules
    import (a big app takes seconds), so the password is visible for less than that."""
    from harness import wait_until, WorkerProcess
    mark = tmp_path / "importing"
    secret_url = url.replace("redis://", "redis://someone:S3CRET-argv@")
    worker = WorkerProcess(secret_url, ["-q", "default", "-r", "jobs_slow_import"],
                           env={"FORKQ_TEST_IMPORT_MARK": str(mark)})
    try:
        wait_until(mark.exists, 20, "the app starts importing")
        cmdline = open("/proc/%d/cmdline" % worker.pid).read()
        (tmp_path / "importing.go").write_text("")
    finally:
        worker.stop()
    assert "S3CRET-argv" not in cmdline, cmdline
    assert "resque-" in cmdline or "***" in cmdline, cmdline


def test_query_string_credentials_never_show_in_the_log_or_info_json(r, url, acl_url,
                                                                     spawn_worker):
    from click.testing import CliRunner

    from forkq.cli.app import cli, load_commands
    load_commands()
    host = acl_url.rsplit("@", 1)[1]
    query_url = "redis://%s?username=forkq-user&password=s3cret-Pa55" % host
    enqueue_raw(r, "default", {"class": "Record", "args": ["via query"]})
    worker = spawn_worker("-q", "default", "-v", url_override=query_url)
    assert pop(r, "test:done")["args"] == ["via query"]
    registered_id(r, worker.pid)
    done = CliRunner().invoke(cli, ["info", "--json", "--redis-url", query_url], env={})
    assert done.exit_code == 0, done.output
    worker.stop()
    assert "password=***" in worker.log
    for text in (worker.log, done.output, open("/proc/self/cmdline").read()):
        assert "s3cret-Pa55" not in text
    assert "password=***" in done.output
