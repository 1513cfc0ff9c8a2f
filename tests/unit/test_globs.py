"""Queue globs the worker cannot match as Ruby does are refused where the list is read, so the
reserve script and the admin views never disagree about which queues a worker polls."""
import pytest

from forkq.config import Config, ConfigError


@pytest.mark.parametrize("queues", [["[é]x"], ["a", "!b[à-ÿ]"]])
def test_a_class_with_non_ascii_members_is_refused(queues):
    with pytest.raises(ConfigError, match="non-ASCII"):
        Config.load({"queues": queues}, environ={})


@pytest.mark.parametrize("queues", [["é*"], ["?"], ["[a-z]x", "[!a]"]])
def test_other_globs_are_accepted(queues):
    assert Config.load({"queues": queues}, environ={}).queues == tuple(queues)
