"""What every install builds from agrees with itself: each dependency is pinned in
constraints.txt at a version pyproject.toml allows, and the scripts, the settings and the README
give the same default address."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
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


@pytest.mark.process
def test_dockerfile_installs_pinned_dependencies_before_the_sources(tmp_path: Path) -> None:
    """The dependency layer is built from the constraints before src/ is copied (a source change
    does not reinstall them), the health check follows the server's settings (`mirp health`),
    and every file the image copies exists."""
    docker = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in docker.splitlines()]
    copies = [i for i, line in enumerate(lines) if line.startswith("COPY ")]
    first_src = next(i for i in copies if " src " in lines[i] + " ")
    pinned = next(i for i, line in enumerate(lines) if "-c constraints.txt -r" in line)
    assert pinned < first_src
    for i in copies:
        for name in lines[i].split()[1:-1]:
            assert (ROOT / name).exists(), name
    assert 'CMD ["mirp", "health"]' in docker and "ENV MIRP_WEB_DIR" not in docker
    # the command that lists the dependencies for that layer, run on this pyproject.toml
    command = re.search(r'RUN (python -c ".*?") > /tmp/requirements.txt', docker)
    assert command, "the requirements step"
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    out = subprocess.run(command.group(1), shell=True, cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    assert out == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "data"} <= set(ignored)
