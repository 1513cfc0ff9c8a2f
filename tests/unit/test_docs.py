"""README.rst is short and readable, and every table in README, docs/ and the man pages is
forkq's own data (signals, exit codes), so none of them can drift from the code."""
import os
import re
import sys

import click
from harness import ROOT

from forkq.cli.app import cli, load_commands
from forkq.errors import EXIT_MEANINGS, ExitCode
from forkq.proc.signals import SIGNALS

sys.path.insert(0, os.path.join(ROOT, "man"))
import build  # noqa: E402  (man/build.py: the tables' one writer)

README = open(os.path.join(ROOT, "README.rst")).read()
DOCS = {name: open(os.path.join(ROOT, "docs", name)).read()
        for name in os.listdir(os.path.join(ROOT, "docs")) if name.endswith(".rst")}


def test_readme_reads_in_five_minutes_and_fits_100_columns():
    wide = [n for n, line in enumerate(README.splitlines(), 1) if len(line) > 100]
    assert wide == [], "README lines wider than 100 columns: %s" % wide
    assert 5000 < len(README.encode()) <= 12 * 1024, len(README.encode())
    for needle in ("sh tests/run.sh", "python3 -m venv .venv", "forkq failed retry",
                   "forkq info", "forkq workers", "Ctrl-C", "QUIT", "TERM", "Procfile",
                   "systemd", "Kubernetes", "PATH", "5 s", "--redis-url-file"):
        assert needle in README, needle


def test_the_signal_table_is_signals_py():
    table = build.rst_tables()["signals"]
    assert table in README
    for _sig, name, what in SIGNALS:
        row = re.search(r"^%s +(.*(?:\n {4,}.*)*)" % name, table, re.M).group(1)
        assert " ".join(row.split()) == what  # every word, in the README too
    work = open(os.path.join(ROOT, "man", "forkq-work.1")).read()
    for _sig, name, what in SIGNALS:
        assert ".B %s\n%s." % (name, build.esc(what)) in work


def test_the_exit_code_tables_are_errors_py():
    table = build.rst_tables()["exit-codes"]
    assert table in DOCS["operating.rst"]
    assert set(EXIT_MEANINGS) == set(ExitCode)
    for code in ExitCode:
        assert re.search(r"^%d +%s +" % (code, code.name), table, re.M), code
    # exit 69 means one thing everywhere
    meaning = EXIT_MEANINGS[ExitCode.UNAVAILABLE]
    for page in os.listdir(os.path.join(ROOT, "man")):
        text = open(os.path.join(ROOT, "man", page)).read()
        if ".B 69\n" in text:
            assert build.esc(meaning) in text, page
    for text in [README] + list(DOCS.values()):
        assert "unreachable for 10 s" not in text


def test_docs_are_generated_from_the_current_data():
    stale = [name for name, text in build.pages()
             if not name.endswith(".1") and
             text != open(os.path.normpath(os.path.join(build.HERE, name))).read()]
    assert stale == [], "run python man/build.py: %s" % stale


def test_every_option_the_docs_name_exists():
    load_commands()
    known = set()

    def walk(command):
        for param in command.params:
            known.update(o for o in getattr(param, "opts", []) if o.startswith("--"))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)
    walk(cli)
    known.update({"--help", "--version"})
    known.update({"--kill-whom"})  # systemctl's, in the systemd advice
    for name, text in [("README.rst", README)] + [
            (n, t) for n, t in DOCS.items() if n != "performance.rst"]:  # bench's own flags
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+[a-z]", text))
        assert named - known == set(), (name, sorted(named - known))


def test_every_forkq_variable_the_docs_name_exists():
    from forkq.config import OPTIONS
    load_commands()
    known = {e.rstrip("?") for o in OPTIONS for e in o.env}

    def walk(command):
        for param in command.params:
            envs = getattr(param, "envvar", None) or ()
            known.update([envs] if isinstance(envs, str) else envs)
        for sub in getattr(command, "commands", {}).values():
            walk(sub)
    walk(cli)
    for name, text in [("README.rst", README)] + sorted(DOCS.items()):
        named = set(re.findall(r"\b(FORKQ_[A-Z][A-Z_]*[A-Z])\b", text))
        assert named - known == set(), (name, sorted(named - known))


def test_readme_links_every_doc_and_every_link_resolves():
    for name in DOCS:
        assert "docs/%s" % name in README, name
    for target in re.findall(r"<((?:docs|bench)/[^>]+)>`_", README):
        assert os.path.exists(os.path.join(ROOT, target)), target
    assert isinstance(cli, click.Group)
