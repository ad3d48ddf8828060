#!/usr/bin/env bash
# Refresh constraints.txt: resolve the newest versions pyproject.toml allows in a throwaway venv
# and write them down exactly. Then run `bash scripts/test.sh` before committing the new file.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --upgrade pip setuptools
"$tmp/venv/bin/python" -m pip install -q ".[test,captions]"
{
  sed -n '1,/^# mirp itself is not listed\.$/p' constraints.txt
  { "$tmp/venv/bin/python" -m pip freeze --exclude mirp
    "$tmp/venv/bin/python" -m pip freeze --all | grep -i -E "^(pip|setuptools)=="; } | sort -f
} > "$tmp/constraints.txt"
mv "$tmp/constraints.txt" constraints.txt
echo "constraints.txt rewritten; run bash scripts/test.sh, then commit it"
