#!/usr/bin/env bash
# The fast lane, for every save: lint, import contracts and the unit tests only (`pytest --fast`:
# no browser, no server process, no WebRTC, no PostgreSQL or redis; docs/testing.md). About a
# minute; scripts/test.sh runs everything (and sets the machine up). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] && export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"; ruff check src tests $( [ -d bench ] && echo bench )
echo "== import contracts"; lint-imports --no-cache
echo "== pytest --fast"
set +e
python -m pytest -q -p no:cacheprovider --fast "$@"
rc=$?
set -e
[ $rc -eq 5 ] && { echo "pytest collected no tests"; exit 1; }
exit $rc
