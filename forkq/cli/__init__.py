"""The `forkq` command line: a thin click layer over one Config."""
from forkq.cli.app import main  # noqa: F401
