"""What a test starts, said by its markers and checked while it runs.

The fast lane (`pytest --fast`, scripts/test-fast.sh) is only honest if every test that starts
something heavy says so. Markers are applied automatically where the cause is visible before the
test runs (a directory, a fixture: see `apply`), and written by hand elsewhere. A Python audit
hook (`install`) then watches each test's setup and call: a test that spawns a process or binds
a UDP socket (ICE, i.e. WebRTC) without the marker for it fails, naming the marker to add. So a
missing marker is a red test in every lane, not a slow fast lane found months later.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

# marker -> what it means (pyproject.toml declares the same names; --strict-markers refuses others)
HEAVY = {
    "browser": "drives Debian's Chromium with Playwright",
    "integration": "end to end against real `mirp serve` processes (tests/integration, bench)",
    "postgres": "starts or uses a real PostgreSQL server",
    "redis": "starts or uses a real redis-server",
    "process": "starts an OS process (the CLI, `mirp serve`, a media worker)",
    "rtc": "makes WebRTC connections (needs loopback networking: scripts/test.sh's namespace)",
    "slow": "runs 40 s or more at real protocol timers",
}

# Directories whose every test is of a kind (relative to tests/).
_BY_DIRECTORY = {"integration": "integration", "bench": "integration", "browser": "browser"}
# Fixtures that start a server: a test using one carries its marker.
_BY_FIXTURE = {"postgres_server": "postgres", "redis_server": "redis"}
# A requirement is met by its own marker or by a wider one that is never in the fast lane.
_SATISFIED_BY = {
    "postgres": {"postgres"},
    "redis": {"redis"},
    "process": {"process", "integration", "browser", "postgres", "redis"},
    "rtc": {"rtc", "integration", "browser"},
}
# The app's own children are part of the unit under test: every app a test builds starts its
# media worker (issue 9), and password hashing has a spawn pool (store/work.py).
_APP_CHILDREN = {"mirp.media.worker"}
# ctypes.util.find_library runs ldconfig (or gcc/ld) to find a shared library when a module that
# needs one is first imported (ifaddr under aioice does): an import, not a process under test
_LIBRARY_LOOKUP = {"ldconfig", "ldconfig.real", "gcc", "cc", "ld", "objdump"}
_POSTGRES_PROGRAMS = {"postgres", "initdb", "pg_ctl", "createdb", "psql", "pg_isready"}

_TESTS = Path(__file__).resolve().parents[1]
_current: pytest.Item | None = None
_installed = False


def apply(items: Iterable[pytest.Item]) -> None:
    """Mark tests by directory and by the fixtures they use (db_url's "postgres" case too)."""
    for item in items:
        try:
            top = item.path.resolve().relative_to(_TESTS).parts[0]
        except ValueError:
            top = ""
        names = {_BY_DIRECTORY[top]} if top in _BY_DIRECTORY else set()
        fixtures = set(getattr(item, "fixturenames", ()))
        names |= {marker for fixture, marker in _BY_FIXTURE.items() if fixture in fixtures}
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgres":
            names.add("postgres")  # tests/store/conftest.py's db_url: sqlite, then postgres
        for name in sorted(names):
            if item.get_closest_marker(name) is None:
                item.add_marker(name)


def is_heavy(item: pytest.Item) -> bool:
    """Outside the fast lane (`pytest --fast`)."""
    return any(item.get_closest_marker(name) for name in HEAVY)


def requirement(event: str, args: tuple[Any, ...]) -> str | None:
    """The marker an audited event calls for, or None for an event the fast lane allows."""
    if event == "subprocess.Popen":
        executable, argv = args[0], args[1]
        words = [argv] if isinstance(argv, (str, bytes, os.PathLike)) else list(argv or ())
        texts = [os.fsdecode(w) for w in [executable, *words] if w]
        if any(t in _APP_CHILDREN for t in texts) or any("multiprocessing" in t for t in texts):
            return None
        programs = {os.path.basename(t) for t in texts}
        if texts and os.path.basename(texts[0]) in _LIBRARY_LOOKUP:
            return None
        if programs & _POSTGRES_PROGRAMS:
            return "postgres"
        if any(p.startswith("redis-server") for p in programs):
            return "redis"
        return "process"
    if event == "socket.bind":
        sock = args[0]
        if (isinstance(sock, socket.socket) and sock.type == socket.SOCK_DGRAM
                and sock.family in (socket.AF_INET, socket.AF_INET6)):
            return "rtc"
    return None


def missing(item: pytest.Item, needed: str) -> bool:
    return not any(item.get_closest_marker(m) for m in _SATISFIED_BY[needed])


def _audit(event: str, args: tuple[Any, ...]) -> None:
    item = _current
    if item is None or event not in ("subprocess.Popen", "socket.bind"):
        return
    needed = requirement(event, args)
    if needed is None or not missing(item, needed):
        return
    message = (f"{item.nodeid} {HEAVY[needed]} but is not marked: add "
               f"@pytest.mark.{needed} (or `pytestmark`), see docs/testing.md")
    item.stash.setdefault(_VIOLATIONS, []).append(message)
    raise RuntimeError(message)


_VIOLATIONS = pytest.StashKey[list[str]]()


def install() -> None:
    """Add the audit hook once per process (audit hooks cannot be removed; it is idle between
    tests)."""
    global _installed
    if not _installed:
        sys.addaudithook(_audit)
        _installed = True


def watch(item: pytest.Item | None) -> None:
    """Set the test whose setup or call is running (None during teardown and collection)."""
    global _current
    _current = item


def violations(item: pytest.Item) -> list[str]:
    """What the hook refused during this test, even where the refusal was swallowed (a thread,
    a library retrying)."""
    return item.stash.get(_VIOLATIONS, [])
