# Shared by scripts/serve.sh and scripts/test.sh: install what is missing, nothing more.

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=""
apt_install() {  # apt_install PKG...: install the Debian packages that are not installed yet
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  echo "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

PY=""
ensure_python() {  # a Python 3.11 or newer with venv (3.11 is the version the suite runs on)
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null; then
      PY=$(command -v "$c"); return 0
    fi
  done
  apt_install python3 python3-venv python3-dev
  PY=$(command -v python3)
}

ensure_venv() {  # ensure_venv EXTRAS: .venv with mirp installed (editable), e.g. ensure_venv "[test]"
  # Every version comes from constraints.txt (the versions the suite passed with), pip and the
  # build backend included: the build runs without isolation, on the venv's pinned setuptools.
  local extras="$1"
  if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
  local stamp=".venv/.installed$extras"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q -c constraints.txt --upgrade pip setuptools >/dev/null
    .venv/bin/python -m pip install -q -c constraints.txt --no-build-isolation -e ".$extras"
    touch "$stamp"
  fi
}
