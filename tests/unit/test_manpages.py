"""The man pages exist for every command, are up to date with the code, and render cleanly."""
import os
import shutil
import subprocess
import sys

import pytest
from harness import ROOT

from forkq.cli.app import cli, load_commands

load_commands()  # the admin commands register themselves on `cli`

MAN = os.path.join(ROOT, "man")


def test_pages_are_generated_from_the_current_commands():
    done = subprocess.run([sys.executable, os.path.join(MAN, "build.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_command_and_option_is_documented():
    for name, command in cli.commands.items():
        page = open(os.path.join(MAN, "forkq-%s.1" % name)).read()
        subs = [command] + list(getattr(command, "commands", {}).values())
        for sub in subs:
            for param in sub.params:
                for opt in getattr(param, "opts", []):
                    if opt.startswith("-"):
                        assert opt.replace("-", "\\-") in page, (name, opt)
    overview = open(os.path.join(MAN, "forkq.1")).read()
    for name in cli.commands:
        assert "forkq\\-%s" % name in overview
    commands = overview[overview.index(".SH COMMANDS"):overview.index(".SH ENVIRONMENT")]
    assert "..." not in commands and "…" not in commands  # summaries whole, not cut off


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_pages_render_without_warnings():
    for page in sorted(os.listdir(MAN)):
        if page.endswith(".1"):
            done = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(MAN, page)],
                                  capture_output=True, text=True)
            assert done.returncode == 0 and done.stderr == "", (page, done.stderr)


def test_pages_carry_exit_status_and_the_pool_its_signals_and_config():
    for name in cli.commands:
        page = open(os.path.join(MAN, "forkq-%s.1" % name)).read()
        assert ".SH EXIT STATUS\n.TP\n.B 0\n" in page, name
    pool = open(os.path.join(MAN, "forkq-pool.1")).read()
    signals = pool[pool.index(".SH SIGNALS"):pool.index(".SH CONFIG FILE")]
    for sig in ("QUIT", "TERM", "INT", "HUP", "USR1", "USR2", "CONT", "CHLD"):
        assert ".B %s\n" % sig in signals, sig
    assert "replace every worker" in signals
    assert "QUEUES = COUNT" in pool and "critical,default = 2" in pool
    assert ".SH RESTARTS" in pool and "doubles" in pool
