"""The command line's contract: durations are finite, credentials never shown, the Redis URL
can come from a file (and an unreachable one is named with where it came from), and nothing
the fork server or guard inherits has loaded redis-py or psutil."""
import json
import os
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner
from harness import ROOT, SUPPORT, worker_env

from forkq.cli.app import cli
from forkq.config import Config, ConfigError, redact_url
from forkq.errors import ExitCode


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


# --- NaN and infinity (issue 12 item 10) ---------------------------------------------------

@pytest.mark.parametrize("flag", ["--grace", "--timeout", "--interval", "--term-timeout",
                                  "--shutdown-timeout", "--max-child-rss",
                                  "--heartbeat-interval", "--prune-interval"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_work_refuses_nan_and_infinite_durations_with_exit_78(flag, value):
    done = CliRunner().invoke(cli, ["work", "-q", "default", flag, value], env={})
    assert done.exit_code == ExitCode.CONFIG, done.output
    assert flag in done.output and "finite" in done.output, done.output


@pytest.mark.parametrize("var", ["FORKQ_GRACE", "FORKQ_TIMEOUT", "INTERVAL", "FORKQ_INTERVAL"])
def test_environment_nan_is_refused_and_named(var):
    with pytest.raises(ConfigError, match="%s=.*finite" % var):
        Config.load({"queues": ("q",)}, {var: "nan"})


def test_the_worker_process_exits_78_on_nan_before_touching_redis():
    env = worker_env("redis://127.0.0.1:%d/0" % _closed_port())
    done = subprocess.run([sys.executable, "-m", "forkq", "work", "-q", "default", "--grace",
                           "nan"], env=env, cwd=SUPPORT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 78, done.stderr
    assert "--grace" in done.stderr and "finite" in done.stderr


# --- one redaction for every credential form redis-py reads (issue 12 item 8) ------------

@pytest.mark.parametrize("url", [
    "redis://user:S3CRET@host:6380/1",
    "rediss://:S3CRET@host/0",
    "redis://host/0?password=S3CRET",
    "redis://host:6379/0?username=S3CRET&password=S3CRET&db=2",
    "unix:///run/redis.sock?password=S3CRET&db=0",
    "unix://:S3CRET@/run/redis.sock",
    "redis://host/0?sentinel_password=S3CRET&ssl_password=S3CRET",
    "redis+sentinel://:S3CRET@h1:26379,h2:26379/mymaster?sentinel_password=S3CRET",
    "redis://[::1/0?password=S3CRET",  # not even parseable
])
def test_redact_url_hides_every_credential(url):
    shown = redact_url(url)
    assert "S3CRET" not in shown and "***" in shown


def test_redact_url_keeps_what_is_not_a_secret():
    assert redact_url("redis://db.internal:6380/0") == "redis://db.internal:6380/0"
    assert redact_url("unix:///run/redis.sock?db=3") == "unix:///run/redis.sock?db=3"
    assert redact_url("redis://u:p@h:1/2?db=2&password=x") == "redis://u:***@h:1/2?db=2&password=***"


# --- the URL from a file, and where each URL came from -------------------------------------

def test_the_redis_url_comes_from_flag_file_env_or_default(tmp_path):
    path = tmp_path / "url"
    path.write_text("redis://:pw@filehost:6379/0\n# ignored\n")
    env = {"FORKQ_REDIS_URL": "redis://forkqenv/0", "REDIS_URL": "redis://plainenv/0"}
    c = Config.load({"redis_url": "redis://flag/0"}, env)
    assert (c.redis_url, c.redis_url_source) == ("redis://flag/0", "--redis-url")
    c = Config.load({"redis_url_file": str(path)}, env)
    assert c.redis_url == "redis://:pw@filehost:6379/0"
    assert c.redis_url_source == "--redis-url-file %s" % path
    c = Config.load({}, dict(env, FORKQ_REDIS_URL_FILE=str(path)))
    assert c.redis_url_source == "FORKQ_REDIS_URL_FILE %s" % path
    assert Config.load({}, env).redis_url_source == "FORKQ_REDIS_URL"
    assert Config.load({}, {"REDIS_URL": "redis://x/0"}).redis_url_source == "REDIS_URL"
    assert Config.load({}, {}).redis_url_source == "default"
    with pytest.raises(ConfigError, match="not both"):
        Config.load({"redis_url": "redis://a/0", "redis_url_file": str(path)}, {})
    with pytest.raises(ConfigError, match="No such file"):
        Config.load({"redis_url_file": str(tmp_path / "missing")}, {})


def test_cannot_reach_redis_names_the_redacted_url_and_its_source(tmp_path):
    port = _closed_port()
    path = tmp_path / "url"
    path.write_text("redis://:S3CRET@127.0.0.1:%d/0\n" % port)
    cases = [(["--redis-url-file", str(path)], {}, "--redis-url-file %s" % path),
             ([], {"REDIS_URL": "redis://:S3CRET@127.0.0.1:%d/0" % port}, "REDIS_URL"),
             ([], {"FORKQ_REDIS_URL": "redis://:S3CRET@127.0.0.1:%d/0" % port},
              "FORKQ_REDIS_URL"),
             (["--redis-url", "redis://:S3CRET@127.0.0.1:%d/0" % port], {}, "--redis-url")]
    for args, extra, source in cases:
        env = worker_env("unused", extra)
        done = subprocess.run([sys.executable, "-m", "forkq", "info"] + args, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == ExitCode.UNAVAILABLE, done.stderr
        assert "cannot reach Redis at redis://:***@127.0.0.1:%d/0 (URL from %s)" % (
            port, source) in done.stderr, done.stderr
        assert "S3CRET" not in done.stderr + done.stdout


# --- the import rule (issue 11 item 5) -----------------------------------------------------

PROBE = """
import json, sys
import forkq.proc.forkserver, forkq.proc.guard
def dump(*_a, **_k):
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("redis", "psutil"))
    # modules whose at-fork handlers run Python in every child forked after them
    forking = sorted(m for m in sys.modules if m in ("click", "threading", "logging", "random"))
    cli = sorted(m for m in sys.modules if m.startswith("forkq.cli.") or
                 m.startswith("forkq.store."))
    print(json.dumps({"heavy": heavy, "loaded": cli, "forking": forking}))
    sys.stdout.flush()
    raise SystemExit(0)
forkq.proc.forkserver.ForkServer.start = classmethod(dump)
forkq.proc.guard.Guard.start = classmethod(dump)
sys.argv = ["forkq", "work"] + sys.argv[1:]
from forkq.cli import main
main()
"""


@pytest.mark.parametrize("mode", [[], ["--no-fork-server"]])
def test_nothing_the_fork_server_or_guard_inherits_loaded_redis_py_or_psutil(mode):
    """Everything `forkq work` imports up to the moment it forks its fork server (or guard),
    with a --require module that imports only forkq: neither redis-py nor psutil, and no
    admin command module; for the fork server, nothing with an at-fork handler either
    (click brings threading; setproctitle's package, logging; a retry delay, random)."""
    env = worker_env("redis://127.0.0.1:%d/0" % _closed_port())
    done = subprocess.run([sys.executable, "-c", PROBE, "-q", "default", "-r", "jobs_lean"]
                          + mode, env=env, cwd=SUPPORT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["heavy"] == [], seen
    assert "forkq.store.admin" not in seen["loaded"], seen
    commands = [m for m in seen["loaded"] if m.startswith("forkq.cli.")]
    if mode:  # the guard: no command module but the group's own (never admin code)
        assert commands == ["forkq.cli.app", "forkq.cli.common", "forkq.cli.early",
                            "forkq.cli.requires"], seen
    else:  # the fork server is forked before click (forkq.cli.early): no at-fork handlers
        assert commands == ["forkq.cli.early", "forkq.cli.requires"], seen
        assert seen["forking"] == [], seen


def test_every_command_in_the_table_loads_and_work_needs_none_of_them():
    from forkq.cli import app
    for name in app.COMMANDS:
        assert app.cli.get_command(None, name) is not None, name
    assert "work" in app.cli.commands and "work" not in app.COMMANDS
    assert os.path.exists(os.path.join(ROOT, "forkq", "cli", "app.py"))
