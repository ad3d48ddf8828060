"""What every install builds from agrees with itself: each dependency is pinned in
constraints.txt at a version pyproject.toml allows, and the scripts, the settings and the README
give the same default address."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mirp.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = version
    return pins


def test_every_dependency_is_pinned_at_an_allowed_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [*project["project"]["dependencies"],
              *(d for extra in project["project"]["optional-dependencies"].values()
                for d in extra),
              *project["build-system"]["requires"]]
    pins = _pins()
    assert "mirp" not in pins
    wrong = []
    for text in wanted:
        req = Requirement(text)
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None or not req.specifier.contains(pinned, prereleases=True):
            wrong.append(f"{text}: constraints.txt has {pinned}")
    assert not wrong, "refresh with `bash scripts/lock.sh`: " + "; ".join(wrong)


def test_scripts_readme_and_settings_agree_on_the_default_address() -> None:
    defaults = Settings.model_fields
    host, port = defaults["host"].default, defaults["port"].default
    serve = (ROOT / "scripts" / "serve.sh").read_text()
    assert f"${{MIRP_HOST:-{host}}}" in serve and f"${{MIRP_PORT:-{port}}}" in serve
    readme = (ROOT / "README.md").read_text()
    quick = re.search(r"bash scripts/serve\.sh\s+#[^\n]*", readme)
    assert quick and f"http://{host}:{port}" in quick.group(0), quick
