"""Importing the operator's --require modules (never a name from a payload). Click-free:
`forkq work` imports them before click is loaded (forkq.cli.early)."""
import importlib
import importlib.util
import os
import sys

from forkq.errors import ExitCode


def import_jobs(modules):
    """Import each module (a dotted name, or a path ending in .py); on a failure, say which
    and why on stderr and exit with ExitCode.CONFIG."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in modules:
        try:
            if name.endswith(".py") and os.path.exists(name):
                mod_name = os.path.splitext(os.path.basename(name))[0]
                spec = importlib.util.spec_from_file_location(mod_name, name)
                module = importlib.util.module_from_spec(spec)
                sys.modules[mod_name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(name)
        except Exception as exc:
            sys.stdout.flush()
            sys.stderr.write("forkq: --require %s failed: %s: %s\n"
                             % (name, type(exc).__name__, exc))
            sys.exit(ExitCode.CONFIG)
