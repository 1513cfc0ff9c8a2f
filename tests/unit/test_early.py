"""forkq.cli.early reads `forkq work`'s command line before click is imported, to fork the
fork server first; click's reading must be the same, or the early server is not used."""
import pytest

from forkq.cli import app, early
from forkq.config import Config

SAME = [
    ["-q", "default"],
    ["--queues", "critical,default", "-r", "jobs_lean", "--require=other"],
    ["-qa,b", "-rmod", "--timeout", "30", "--burst", "--interval=0.5"],
    ["--queue", "x", "--queues", "y", "-v", "--procline-prefix", "app: ",
     "--jobs-per-child", "1", "--graceful-term", "--redis-url", "redis://h:1/2"],
]
UNSURE = [
    ["-q", "default", "extra"],        # work takes no arguments
    ["-q", "default", "--help"],
    ["-q", "default", "--no-such-option"],
    ["-q"],                            # a value is missing
    ["-q", "default", "--burst=yes"],  # a flag with a value
    ["-vq", "default"],                # short flags run together
]


def _click_config(args):
    ctx = app.work.make_context("work", list(args))
    return Config.load(ctx.params, environ={}, need_queues=True)


@pytest.mark.parametrize("args", SAME)
def test_early_reading_is_clicks(args):
    values = early.read_options(args)
    assert values is not None
    assert Config.load(values, environ={}, need_queues=True) == _click_config(args)


@pytest.mark.parametrize("args", UNSURE)
def test_early_reading_leaves_anything_unsure_to_click(args):
    assert early.read_options(args) is None


def test_a_server_forked_for_another_config_is_stopped_not_used():
    stopped = []

    class Server:
        def stop(self):
            stopped.append(True)

    one, other = (Config.load({"queues": (q,)}, environ={}) for q in ("a", "b"))
    early._early.update(config=one, server=Server())
    try:
        assert early.imported(one) and not early.imported(other)
        assert early.take_server(other) is None and stopped == [True]
        assert early.take_server(one) is None  # taken once
    finally:
        early._early.clear()
