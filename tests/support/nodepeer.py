"""Running tests/node's peers (node-resque) from a test: where run.sh put node-resque, the
environment that finds it, and a one-shot command or a held process."""
import json
import os
import shutil
import subprocess

import pytest

from harness import TESTS

NODE = shutil.which("node")
IN_CI = bool(os.environ.get("CI"))


def node_modules_dirs():
    cache = os.environ.get("FORKQ_NODE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "forkq-node")
    return [os.path.join(cache, "node_modules")] + [
        d for d in os.environ.get("NODE_PATH", "").split(os.pathsep) if d]


def node_env():
    return dict(os.environ, NODE_PATH=os.pathsep.join(node_modules_dirs()))


def require_node_resque():
    """Skip where node is absent and CI is unset; in CI a missing peer fails the test."""
    if NODE is None:
        if IN_CI:
            pytest.fail("CI is set but node is not installed: tests/run.sh installs it")
        pytest.skip("node is not installed: tests/run.sh installs node and node-resque")
    if not any(os.path.isdir(os.path.join(d, "node-resque")) for d in node_modules_dirs()):
        pytest.fail("node-resque is not installed in %s: run `sh tests/run.sh`"
                    % " or ".join(node_modules_dirs()))


def run(script, cmd, port, timeout=30):
    """One command of tests/node/<script>; its last JSON line."""
    done = subprocess.run([NODE, os.path.join(TESTS, "node", script),
                           json.dumps(dict(cmd, port=port))],
                          capture_output=True, text=True, timeout=timeout, env=node_env())
    assert done.returncode == 0, (done.stdout, done.stderr)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()][-1]


class Held:
    """A peer that runs until SIGTERM (`hold` of peer.js, sched_peer.js's scheduler); its
    JSON lines are read at the end."""

    def __init__(self, script, cmd, port):
        self.proc = subprocess.Popen([NODE, os.path.join(TESTS, "node", script),
                                      json.dumps(dict(cmd, port=port))],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=node_env())
        self.ready = json.loads(self.proc.stdout.readline())
        assert self.ready.get("ready"), self.ready

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        rest, _ = self.proc.communicate(timeout=15)
        return [json.loads(line) for line in rest.splitlines() if line.strip()]
