"""What is generated from the protocol's definitions is up to date: web/js/wire.js and the
generated tables of docs/protocol.md (regenerate with `python -m mirp.signaling.schema`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mirp import errors
from mirp.signaling import schema
from mirp.signaling.closes import BY_CODE, CLOSE_CODES

ROOT = Path(__file__).resolve().parents[2]


def test_generated_files_are_up_to_date() -> None:
    stale = schema.stale(ROOT)
    assert not stale, f"stale: {[str(p) for p in stale]}; run `{schema.COMMAND}`"


def test_check_mode_finds_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for rel in (schema.JS_PATH, schema.DOC_PATH):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((ROOT / rel).read_text())
    assert schema.main(["--root", str(tmp_path), "--check"]) == 0
    js = tmp_path / schema.JS_PATH
    js.write_text(js.read_text().replace("MAX_CHAT_CHARS = ", "MAX_CHAT_CHARS = 1"))
    doc = tmp_path / schema.DOC_PATH
    doc.write_text(doc.read_text().replace("| 4429 |", "| 4430 |"))
    assert schema.main(["--root", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "wire.js is stale" in err and "protocol.md is stale" in err
    assert schema.COMMAND in err
    assert schema.main(["--root", str(tmp_path)]) == 0  # regenerates
    assert schema.stale(tmp_path) == []


def test_every_error_s_close_code_is_in_the_table() -> None:
    def classes(base: type[errors.MirpError]) -> list[type[errors.MirpError]]:
        return [base, *(c for sub in base.__subclasses__() for c in classes(sub))]

    codes = {e.__name__: e.ws_close for e in classes(errors.MirpError)}
    assert not {name: code for name, code in codes.items() if code not in BY_CODE}


def test_final_codes_are_the_44xx_but_too_slow_and_full() -> None:
    """What web/js/protocol.js did by arithmetic before: a client written from the table
    reconnects exactly when it did."""
    final = {c.code for c in CLOSE_CODES if c.final}
    assert final == {c.code for c in CLOSE_CODES if 4400 <= c.code < 4500} - {4408, 4429}


def test_wire_js_is_what_protocol_js_reads() -> None:
    js = (ROOT / schema.JS_PATH).read_text()
    protocol_js = (ROOT / "web/js/protocol.js").read_text()
    imported = re.search(r'import \{([^}]*)\} from "\./wire\.js"', protocol_js)
    assert imported, "protocol.js does not import wire.js"
    for name in (n.strip() for n in imported.group(1).split(",")):
        assert f"export const {name} " in js, name
    # no close code is written by hand in protocol.js's code any more
    code = re.sub(r"//.*", "", protocol_js)
    assert not re.search(r"\b(100[1-9]|101\d|4\d\d\d)\b|close\(1000", code)
