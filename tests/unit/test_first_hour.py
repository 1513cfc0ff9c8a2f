"""Frictions a new user met in the first hour (issue 11 item 8), each pinned by a test."""
import configparser
import io
import os
import re
import socket
import subprocess
import time

import pytest
from click.testing import CliRunner
from harness import ROOT

import forkq
from forkq.cli.app import cli, load_commands
from forkq.log import EventLog
from forkq.proc.pool import Pool

load_commands()  # harmless with the lazy group; the old one needed it


def _closed_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "redis://:S3CRET@127.0.0.1:%d/0" % s.getsockname()[1]


def test_enqueue_without_a_queue_names_the_options_not_python_words():
    done = CliRunner().invoke(cli, ["enqueue", "add", "1", "2"], env={})
    assert done.exit_code == 2
    assert "--queue" in done.output and "--require" in done.output, done.output
    assert "queue=" not in done.output


def test_enqueue_with_require_refuses_a_class_the_app_does_not_register():
    done = CliRunner().invoke(cli, ["enqueue", "Lean::Modulez", '"x"', "-q", "default", "-r",
                                    "jobs_lean", "--redis-url", _closed_url()], env={})
    assert done.exit_code == 2, done.output
    assert "'Lean::Modulez' is not a job registered by --require jobs_lean" in done.output
    assert "Lean::Modules" in done.output  # the names it does know


def test_work_takes_queue_as_well_as_queues_and_a_typo_says_which():
    work = cli.get_command(None, "work")
    [queues] = [p for p in work.params if p.name == "queues"]
    assert {"-q", "--queues", "--queue"} <= set(queues.opts)
    done = CliRunner().invoke(cli, ["work", "--queue", "default", "--grace", "nan"], env={})
    assert done.exit_code == 78 and "--grace" in done.output  # --queue was taken
    done = CliRunner().invoke(cli, ["work", "--queus", "default"], env={})
    assert done.exit_code == 2 and "--queus" in done.output and "--queues" in done.output


def test_text_log_lines_say_which_process_wrote_them():
    out = io.StringIO()
    EventLog(stream=out, verbose=True).event("done", "Hello", job_class="Hello")
    assert re.search(r"Z forkq\[%d\] done Hello" % os.getpid(), out.getvalue()), out.getvalue()


def test_pool_lines_do_not_double_their_words():
    out = io.StringIO()
    pool = Pool({"default": 1}, [], log=EventLog(stream=out, verbose=True))
    proc = subprocess.Popen(["true"])
    pool.children[proc.pid] = ("default", proc, time.monotonic())
    proc.wait()
    pool.reap()
    pool.reload()
    text = out.getvalue()
    assert "exited worker %d for default with status 0" % proc.pid in text, text
    assert "replacing 0 workers" in text and "replacing replacing" not in text, text
    for line in text.splitlines():
        said = line.split(" pid=")[0].split(" pids=")[0]  # the line's words, not its fields
        words = said.split()
        assert not any(a == b for a, b in zip(words, words[1:])), line
        assert said.count("exited") <= 1, line


def test_a_duplicate_job_name_names_both_modules():
    @forkq.job(name="First::Hour::Dup")
    def one():
        pass

    def two():
        pass
    two.__module__ = "myapp.other"
    try:
        with pytest.raises(ValueError, match=r"by .*one \(in module test_first_hour\); .*"
                                             r"two \(in module myapp.other\)"):
            forkq.job(name="First::Hour::Dup")(two)
    finally:
        forkq.api.registry.unregister("First::Hour::Dup")


def test_enqueue_from_python_with_redis_down_raises_forkqs_own_error():
    url = _closed_url()
    producer = forkq.connect(url=url)
    try:
        with pytest.raises(forkq.RedisUnavailable) as caught:
            forkq.enqueue("Hello", "x", queue="default")
        text = str(caught.value)
        assert "cannot reach Redis at redis://:***@127.0.0.1:" in text, text
        assert "forkq.connect" in text and "S3CRET" not in text
        assert isinstance(caught.value, ConnectionError)
        with pytest.raises(forkq.RedisUnavailable):
            forkq.dequeue("Hello", "x", queue="default")
    finally:
        forkq.api.enqueue._default = None
    assert producer is not None


def test_ci_run_passes_its_arguments_to_the_tests():
    text = open(os.path.join(ROOT, ".ci", "run")).read()
    assert re.search(r'^exec sh tests/run.sh "\$@"$', text, re.M), text
    run_sh = open(os.path.join(ROOT, "tests", "run.sh")).read()
    assert re.search(r'-m pytest -q "\$@"', run_sh)


def test_license_file_matches_the_metadata():
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"))
    meta = cfg["metadata"]
    assert meta["license"] == "MIT"
    assert open(os.path.join(ROOT, "LICENSE")).readline().strip() == "MIT License"
    assert meta["url"].startswith("https://") and meta["author"].strip()


def test_enqueue_from_python_finds_the_url_as_the_worker_does(tmp_path, monkeypatch):
    path = tmp_path / "url"
    path.write_text(_closed_url() + "\n")
    monkeypatch.setenv("FORKQ_REDIS_URL_FILE", str(path))
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere.invalid:6379/0")
    forkq.api.enqueue._default = None
    try:
        with pytest.raises(forkq.RedisUnavailable) as caught:
            forkq.enqueue("Hello", "x", queue="default")
    finally:
        forkq.api.enqueue._default = None
    assert "(from FORKQ_REDIS_URL_FILE %s)" % path in str(caught.value)
    assert "S3CRET" not in str(caught.value)
