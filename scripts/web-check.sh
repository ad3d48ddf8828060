#!/usr/bin/env bash
# Lint and unit-test the browser client (web/js): ESLint and node's own test runner, both pinned
# in tools/web/ (package.json + package-lock.json; never under web/, which the app serves).
# Installs the pinned packages once (npm ci, then offline); installs node if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || apt_install nodejs npm
TOOLS=tools/web
# install again only when the lock changed since the last install
if [ ! -f "$TOOLS/node_modules/.package-lock.json" ] || [ "$TOOLS/package-lock.json" -nt "$TOOLS/node_modules/.package-lock.json" ]; then
  echo "== npm ci (tools/web)"
  (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "== eslint (web/js, tools/web, tests/browser)"
"$TOOLS/node_modules/.bin/eslint" -c "$TOOLS/eslint.config.js" --max-warnings 0 web/js "$TOOLS" tests/browser
echo "== node tests (tools/web/test)"
node --test --test-reporter=dot "$TOOLS"/test/*.test.js
