"""The settings the docs name are the settings config.py reads: the README's table lists every
one, and no document names a `MIRP_...` variable that nothing reads.

Checked, not generated: the table's prose (what each setting is for) is written by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from mirp.config import Settings

ROOT = Path(__file__).resolve().parents[2]
VAR = re.compile(r"MIRP_[A-Z0-9_]*[A-Z0-9]")
NESTED = {name: field.annotation for name, field in Settings.model_fields.items()
          if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)}


def _setting_vars() -> set[str]:
    """Every variable Settings reads: MIRP_<FIELD>, and MIRP_<GROUP>__<FIELD> for the nested."""
    names = set()
    for name in Settings.model_fields:
        if name in NESTED:
            names |= {f"MIRP_{name}__{sub}".upper() for sub in NESTED[name].model_fields}
        else:
            names.add(f"MIRP_{name}".upper())
    return names


def _read_by_code() -> set[str]:
    """Variables read outside Settings (the media process, the CLI, scripts, the benchmark)."""
    found: set[str] = set()
    for pattern in ("src/**/*.py", "scripts/*.sh", "bench/**/*.py", "Dockerfile"):
        for path in ROOT.glob(pattern):
            if path.name != "config.py":
                found |= set(VAR.findall(path.read_text()))
    return found


def _readme_table() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("| setting | default |")
    rows = []
    for line in readme[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1])
    return rows


def test_readme_table_lists_every_setting() -> None:
    named = {v for cell in _readme_table() for v in VAR.findall(cell)}
    groups = {m for cell in _readme_table() for m in re.findall(r"MIRP_([A-Z_]+?)__\.\.\.", cell)}
    top = {v for v in _setting_vars() if "__" not in v}
    assert top - named == set(), "settings missing from the README's table"
    assert {g.lower() for g in groups} == set(NESTED), "nested groups in the README's table"
    server_env = {v for v in _read_by_code() if v.startswith("MIRP_MEDIA_")}
    assert server_env - named == set(), "variables the server reads, missing from the table"


def test_docs_name_no_setting_that_does_not_exist() -> None:
    known = _setting_vars() | _read_by_code()
    unknown = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]:
        text = doc.read_text()
        for m in re.finditer(r"MIRP_[A-Z0-9_]*", text):
            name = m.group(0)
            if name in known or name == "MIRP_":  # the prefix itself
                continue
            # a family, written `MIRP_LIMITS__...`, `MIRP_LIMITS__<NAME>` or `MIRP_DB_*`
            if name.endswith("_") and any(k.startswith(name) for k in known):
                continue
            unknown.append(f"{doc.relative_to(ROOT)}: {name}")
    assert unknown == []


def test_every_nested_setting_is_reachable_by_its_documented_name(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`MIRP_LIMITS__X` really sets limits.x (the delimiter the docs promise)."""
    monkeypatch.setenv("MIRP_LIMITS__JOIN_BATCH", "7")
    monkeypatch.setenv("MIRP_RATE_LIMITS__ENABLED", "false")
    settings = Settings()
    assert settings.limits.join_batch == 7
    assert settings.rate_limits.enabled is False


def _literal(cell: str) -> str | None:
    """A default written as a value (`127.0.0.1`, 8000, `true`, 336 (14 days)), else None."""
    cell = re.sub(r"\s*\(.*\)$", "", cell.strip())
    if re.fullmatch(r"`[^`]+`", cell):
        return cell.strip("`")
    return cell if re.fullmatch(r"-?\d+(\.\d+)?", cell) else None


def _same(written: str, default: object) -> bool:
    if isinstance(default, bool):
        return written == str(default).lower()
    if isinstance(default, int | float):
        return float(written) == float(default)
    if isinstance(default, Path):
        return Path(written) == default
    return written == str(default)


def test_readme_table_defaults_are_the_real_ones() -> None:
    """Where the table writes a default as a value, it is the field's default."""
    readme = (ROOT / "README.md").read_text()
    checked = 0
    for line in readme[readme.index("| setting | default |"):].splitlines()[2:]:
        if not line.startswith("|"):
            break
        names_cell, defaults_cell = line.split("|")[1:3]
        names = VAR.findall(names_cell)
        defaults = re.split(r",\s*(?![^()]*\))", defaults_cell.strip())
        if len(names) != len(defaults):
            continue
        for name, cell in zip(names, defaults, strict=True):
            written = _literal(cell)
            field = Settings.model_fields.get(name.removeprefix("MIRP_").lower())
            if written is None or field is None or field.default_factory is not None:
                continue
            assert _same(written, field.default), f"{name}: README says {cell!r}, " \
                f"config.py {field.default!r}"
            checked += 1
    assert checked >= 10, checked  # the table keeps writing its defaults as values
