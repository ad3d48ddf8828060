"""The `mirp` command answers --help everywhere, and `python -m mirp` is the same command."""

import subprocess
import sys

import pytest

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
