#!/bin/sh
# The test command (README.rst, .ci/run): installs what the suite needs on a fresh machine,
# then runs it. The suite starts its own redis-server on a free port; it never uses 6379.
set -eu
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi

# forkq and the test dependencies go into a virtualenv of the suite's own: a distribution's
# python3 refuses pip installs into itself (PEP 668, "externally-managed-environment").
VENV="${FORKQ_TEST_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" 2>/dev/null || {
        rm -rf "$VENV"
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$VENV"
    }
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'

# node-resque, the interop peer (tests/test_node_interop.py): node and npm from Debian when
# missing, then the locked packages into a cache outside tests/ (vendored READMEs there would
# trip the check that greps tests/ for the default Redis address). The tests look in the same
# place; they skip only when node is absent and CI is unset.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; } \
        || echo "run.sh: could not install node and npm; the node interop tests will say so" >&2
fi
NODE_PEER_DIR="${FORKQ_NODE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/forkq-node}"
if ! cmp -s tests/node/package-lock.json "$NODE_PEER_DIR/package-lock.json" \
        || [ ! -d "$NODE_PEER_DIR/node_modules/node-resque" ]; then
    mkdir -p "$NODE_PEER_DIR"
    cp tests/node/package.json tests/node/package-lock.json "$NODE_PEER_DIR/"
    npm ci --prefix "$NODE_PEER_DIR" --no-audit --no-fund --silent >/dev/null 2>&1 \
        || npm install --prefix "$NODE_PEER_DIR" --no-audit --no-fund \
        || echo "run.sh: installing node-resque failed; the node interop tests will fail" >&2
fi
# Headless Chromium and its driver from Debian for the dashboard's browser tests
# (tests/web/test_browser.py; selenium comes with the test extra). Those tests skip only when
# chromium is absent and CI is unset.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; } \
        || echo "run.sh: could not install chromium and chromium-driver; the browser tests will say so" >&2
fi
export FORKQ_NODE_DIR="$NODE_PEER_DIR"
export NODE_PATH="$NODE_PEER_DIR/node_modules${NODE_PATH:+:$NODE_PATH}"
exec "$VENV/bin/python" -m pytest -q "$@"
