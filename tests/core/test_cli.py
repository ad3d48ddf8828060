"""The `mirp` command answers --help everywhere, and `python -m mirp` is the same command."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import free_port

pytestmark = pytest.mark.process


@pytest.mark.parametrize("args", [[], ["serve"], ["admin"], ["admin", "create"]])
def test_help(args: list[str]) -> None:
    out = subprocess.run([sys.executable, "-m", "mirp", *args, "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout


def test_unknown_command_fails_clearly() -> None:
    out = subprocess.run([sys.executable, "-m", "mirp", "fly"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
    assert "No such command" in out.stderr


_SERVE_IN_PROCESS = """
import sys
from typer.testing import CliRunner
from mirp.cli import app
result = CliRunner().invoke(app, ["serve", *sys.argv[1:]])
print("exit", result.exit_code)
print("app imported", "mirp.app" in sys.modules, "uvicorn" in sys.modules)
print(result.output)
"""


@pytest.mark.parametrize("flags, says", [
    (["--tls-certfile", "{cert}"], "go together"),
    (["--tls-certfile", "{cert}", "--tls-keyfile", "{tmp}/missing.pem"], "no file at"),
])
def test_bad_tls_flags_are_refused_before_the_app_is_imported(
        tmp_path: Path, flags: list[str], says: str) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not checked before the pair is")
    args = [f.format(cert=cert, tmp=tmp_path) for f in flags]
    out = subprocess.run([sys.executable, "-c", _SERVE_IN_PROCESS, *args], capture_output=True,
                         text=True, timeout=60,
                         env={**os.environ, "MIRP_DATA_DIR": str(tmp_path / "data")})
    assert out.returncode == 0, out.stderr
    assert "exit 2" in out.stdout, out.stdout
    assert says in out.stdout, out.stdout
    assert "app imported False False" in out.stdout, out.stdout
    assert not (tmp_path / "data").exists()


def test_health_with_no_server_is_unhealthy(tmp_path: Path) -> None:
    port = free_port()
    out = subprocess.run([sys.executable, "-m", "mirp", "health", "--timeout", "2"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "MIRP_PORT": str(port)})
    assert out.returncode == 1
    assert f"unhealthy: http://127.0.0.1:{port}/healthz" in out.stderr
