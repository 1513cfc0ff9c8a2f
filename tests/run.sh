#!/bin/sh
# The test command (README.rst, .ci/run): installs what the suite needs on a fresh machine,
# then runs it. The suite starts its own redis-server on a free port; it never uses 6379.
set -eu
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
if command -v npm >/dev/null 2>&1 && [ -f tests/node/package.json ]; then
    npm install --prefix tests/node --no-audit --no-fund --silent >/dev/null 2>&1 \
        || npm install --prefix tests/node --no-audit --no-fund
fi
exec python3 -m pytest -q "$@"
