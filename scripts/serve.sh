#!/usr/bin/env bash
# Set up (once) and run the server on the embedded defaults: SQLite in ./data, no Redis.
# Works on a fresh Debian machine as root with only the package registries reachable.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_python
ensure_venv ""
exec .venv/bin/mirp serve --host "${MIRP_HOST:-127.0.0.1}" --port "${MIRP_PORT:-8000}" "$@"
