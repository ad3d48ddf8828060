#!/usr/bin/env bash
# The media drift lane: run the media self-check and tests/media against the NEWEST aiortc and
# aioice (no pins), in a throwaway venv, and print what drifted from the pinned versions.
#
# Why: the fast paths (media/compat.py) use aiortc's and aioice's private internals, so both are
# pinned. This lane says early whether a newer release still has what we rely on, long before
# anyone moves the pins. Not part of the normal suite (it needs the package index); run it by
# hand or on a schedule (weekly is plenty):
#   bash scripts/media-drift.sh                    # newest aiortc and aioice
#   bash scripts/media-drift.sh "aiortc==1.17.0"   # or any pip requirement(s) for the two
# Exit status: 0 no drift (every fast path on, media tests green), 1 drift, 2 the lane failed.
# Keep the venv for a closer look: MIRP_DRIFT_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_python
ROOT=$PWD
WORK=$(mktemp -d -t mirp-media-drift.XXXXXX)
if [ "${MIRP_DRIFT_KEEP:-0}" = 1 ]; then echo "venv kept in $WORK/venv"; else trap 'rm -rf "$WORK"' EXIT; fi
SPECS=("$@")
[ ${#SPECS[@]} -eq 0 ] && SPECS=(aiortc aioice)

echo "== a throwaway venv with the newest ${SPECS[*]}"
"$PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --upgrade pip >/dev/null
# every other dependency as tested (constraints.txt, when the project has one), these two free
if [ -f constraints.txt ]; then
  grep -viE '^(aiortc|aioice)==' constraints.txt > "$WORK/constraints.txt"
else
  : > "$WORK/constraints.txt"
fi
# the project without its pins on the two, then the two at their newest
"$VPY" - "$WORK/requirements.txt" <<'EOF'
import re, sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
deps = project["dependencies"] + project["optional-dependencies"]["test"]
keep = [d for d in deps if not re.match(r"(aiortc|aioice)\b", d)]
open(sys.argv[1], "w").write("\n".join(keep) + "\n")
EOF
"$VPY" -m pip install -q -c "$WORK/constraints.txt" -r "$WORK/requirements.txt" || exit 2
"$VPY" -m pip install -q --upgrade --upgrade-strategy eager "${SPECS[@]}" || exit 2
"$VPY" -m pip install -q --no-deps -e . >/dev/null || exit 2

echo "== self-check (media/compat.py)"
export PYTHONPATH="$ROOT/src"
"$VPY" - "$WORK/selfcheck.json" <<'EOF' || exit 2
import json, sys
from mirp.media import compat
check = compat.self_check()
print(check.summary())
json.dump(check.to_wire(), open(sys.argv[1], "w"))
EOF

echo "== tests/media"
set +e
if unshare -n true 2>/dev/null; then
  unshare -n -- bash -c 'ip link set lo up && exec "$0" -m pytest -q -p no:cacheprovider -rf tests/media' \
    "$VPY" 2>&1 | tee "$WORK/pytest.txt"
else
  "$VPY" -m pytest -q -p no:cacheprovider -rf tests/media 2>&1 | tee "$WORK/pytest.txt"
fi
tests_rc=${PIPESTATUS[0]}
set -e

echo "== what drifted"
"$VPY" - "$WORK/selfcheck.json" "$WORK/pytest.txt" "$tests_rc" <<'EOF'
import json, sys
from mirp.media.selfcheck import PINNED
check = json.load(open(sys.argv[1]))
failed = [line.split(" ", 2)[1] for line in open(sys.argv[2]) if line.startswith("FAILED ")]
rc = int(sys.argv[3])
drift = False
for name, pinned in PINNED.items():
    now = check["versions"][name]
    print(f"{name}: pinned {pinned}, tested {now}" + ("" if now == pinned else "  (newer)"))
for name, f in check["features"].items():
    if not f["on"]:
        drift = True
        print(f"fast path {name}: OFF ({f['reason']})")
for test in failed:
    print(f"test failed: {test}")
drift = drift or rc != 0
print("no drift: every fast path on, tests/media green" if not drift else
      "DRIFT: adapt media/compat.py before moving the pins (docs/media.md, 'The drift lane')")
sys.exit(1 if drift else 0)
EOF
