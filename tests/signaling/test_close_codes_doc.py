"""Every WebSocket close code the server's code can use is in the close-code table
(signaling/closes.py, from which docs/protocol.md's table and web/js/wire.js are generated).

The codes are found in the sources, not listed here, so a code added anywhere (an error's
`ws_close`, a `*_WS` / `*_CLOSE` constant, a literal `close(4xxx, ...)`) fails this test until
the table names it."""

from __future__ import annotations

import re
from pathlib import Path

from mirp.signaling.closes import BY_CODE

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"
PATTERNS = (
    re.compile(r"\bws_close\s*(?::\s*ClassVar\[int\]\s*)?=\s*(\d{4})\b"),
    re.compile(r"\b[A-Z][A-Z0-9_]*(?:_WS|_CLOSE|GOING_AWAY)\s*=\s*(\d{4})\b"),
    re.compile(r"\bclose\(\s*(\d{4})\s*,"),
)


def codes_in_sources() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for path in sorted((ROOT / "src" / "mirp").rglob("*.py")):
        text = path.read_text()
        for pattern in PATTERNS:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                where = f"{path.relative_to(ROOT)}:{line}"
                found.setdefault(int(match.group(1)), []).append(where)
    return found


def codes_in_table() -> set[int]:
    return set(BY_CODE)


def test_the_doc_s_table_is_the_table() -> None:
    part = DOC.read_text().split("## Close codes", 1)[1].split("\n## ", 1)[0]
    assert {int(m) for m in re.findall(r"^\| (\d{4}) \|", part, flags=re.M)} == set(BY_CODE)


def test_every_close_code_in_the_sources_is_in_the_table() -> None:
    used = codes_in_sources()
    assert {1000, 1001, 1008, 1013, 4401, 4408} <= set(used), used  # the search finds them
    missing = {code: where for code, where in used.items() if code not in codes_in_table()}
    assert not missing, f"close codes used but not in signaling/closes.py: {missing}"


def test_the_table_names_no_code_that_nothing_uses() -> None:
    unused = codes_in_table() - set(codes_in_sources())
    assert not unused, f"signaling/closes.py lists close codes no code uses: {sorted(unused)}"
