#!/usr/bin/env bash
# Set up (once) and run the whole test suite: lint, import contracts, types, tests.
# Installs what the tests need if missing (Debian's chromium, redis-server, postgresql, espeak-ng,
# sox). Tests that need a real component start it themselves. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_python
apt_install chromium redis-server postgresql espeak-ng sox iproute2
# a package install may have started the system's own servers: the suite starts its own.
(as_root systemctl disable --now redis-server postgresql >/dev/null 2>&1 || true)
ensure_venv "[test,captions]"
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"; ruff check src tests $( [ -d bench ] && echo bench )
echo "== import contracts"; lint-imports --no-cache
echo "== mypy"; mypy
echo "== web"; bash scripts/web-check.sh
echo "== pytest"
set +e
# Inside a network namespace of its own (only loopback, brought up here) nothing a test does can
# leave the machine; where namespaces are not allowed the suite runs as it is.
if [ "${MIRP_TEST_NETNS:-1}" = 1 ] && unshare -n true 2>/dev/null; then
  unshare -n -- bash -c 'ip link set lo up && exec python -m pytest -q -p no:cacheprovider "$@"' pytest "$@"
else
  python -m pytest -q -p no:cacheprovider "$@"
fi
rc=$?
set -e
[ $rc -eq 5 ] && { echo "pytest collected no tests"; exit 1; }
exit $rc
