"""A wheel built from the source tree, installed where no source tree is, serves the browser client
with no MIRP_WEB_DIR (setup.py ships web/ as mirp/web).

Offline: the wheel is built without build isolation on this environment's setuptools, and the
throwaway venv sees this environment's dependencies through a .pth file (`--no-deps`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from packaging.version import Version

from tests.support.procs import free_port, stop
from tests.support.wait import Seen, until

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
TREE = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "src", "web"]


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                         timeout=300, env={**_clean_env(), **(env or {})})
    assert out.returncode == 0, f"{args} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH (the tests run with src/ on it) nor MIRP_ settings from outside."""
    return {k: v for k, v in os.environ.items()
            if k != "PYTHONPATH" and not k.startswith("MIRP_")}


def _wheel(tmp: Path) -> Path:
    have = version("setuptools")
    assert Version(have) >= Version("77"), (
        f"setuptools {have} cannot build this pyproject.toml offline: bring the venv to "
        "constraints.txt (`bash scripts/test.sh` does, or `pip install -c constraints.txt "
        "--upgrade setuptools`)")
    tree = tmp / "tree"
    for name in TREE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tree / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.egg-info", "node_modules"))
        else:
            tree.mkdir(exist_ok=True)
            shutil.copy2(src, tree / name)
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", tmp / "dist", tree, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("mirp-*.whl")
    return wheel


def _venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    python = venv / "bin" / "python"
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                cwd=tmp).strip()
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (Path(site) / "deps.pth").write_text("\n".join(deps) + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         "--no-index", wheel, cwd=tmp)
    return python


def _serve(python: Path, port: int, *, cwd: Path, data: Path,
           log: Path) -> subprocess.Popen[bytes]:
    """`mirp serve` of the installed package, on its defaults but the port and data directory."""
    env = {**_clean_env(), "MIRP_DATA_DIR": str(data), "MIRP_MEDIA_PROCESS": "false"}
    with log.open("wb") as out:
        return subprocess.Popen([str(python), "-m", "mirp", "serve", "--port", str(port)],
                                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


async def test_installed_wheel_serves_the_browser_client(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    python = _venv(tmp_path, wheel)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = _run(python, "-c", "import mirp, sys; print(mirp.__file__)", cwd=outside).strip()
    assert where.startswith(str(tmp_path / "venv")), where

    port = free_port()
    proc = _serve(python, port, cwd=outside, data=tmp_path / "data", log=tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            async def index() -> object:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                try:
                    r = await http.get("/")
                except httpx.HTTPError as exc:
                    return Seen(repr(exc))
                return r if r.status_code == 200 else Seen(f"HTTP {r.status_code}")

            page = await until(index, "the installed server's / page", within=60, step=0.2)
            assert "<html" in page.text.lower()
            js = await http.get("/js/protocol.js")
            assert js.status_code == 200, js.text
            assert "javascript" in js.headers["content-type"]
            assert js.text == (ROOT / "web" / "js" / "protocol.js").read_text()
        # the installed console script, on the server's own settings (the Docker health check)
        health = _run(python.parent / "mirp", "health", cwd=outside,
                      env={"MIRP_PORT": str(port)})
        assert f"healthy: {base}/healthz" in health
    finally:
        stop(proc)
    assert "no browser client" not in (tmp_path / "server.log").read_text()
