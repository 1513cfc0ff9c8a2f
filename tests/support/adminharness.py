"""The admin commands' tests' helpers: `run`, a fixture that runs a forkq command in-process
against the suite's redis-server, and a failed entry as Resque writes it."""
import json

import pytest
from click.testing import CliRunner

from forkq.cli.app import cli, load_commands

load_commands()  # the admin commands register themselves on `cli`


@pytest.fixture
def run(url):
    runner = CliRunner()

    def invoke(*args, code=0, input=None):
        result = runner.invoke(cli, list(args) + ["--redis-url", url], input=input,
                               catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def failed_entry(payload, queue="default", **extra):
    entry = {"failed_at": "2026/11/23 00:00:00 UTC", "payload": payload, "exception": "E",
             "error": "e", "backtrace": [], "worker": "host:1:default"}
    if queue is not None:
        entry["queue"] = queue
    entry.update(extra)
    return json.dumps(entry, separators=(",", ":"))
