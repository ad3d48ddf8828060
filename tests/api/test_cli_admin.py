"""`mirp admin create` makes an administrator who can sign in; a second one with the same e-mail
fails clearly."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.factory import running_app

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _admin_create(data: Path, email: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MIRP_ADMIN_PASSWORD": "admin password 1", "MIRP_SECRET_KEY": "k" * 40}
    return subprocess.run(
        [sys.executable, "-m", "mirp", "admin", "create", "--email", email, "--name", "Root",
         "--data-dir", str(data)], capture_output=True, text=True, timeout=120, env=env)


async def test_admin_create_then_login(tmp_path: Path) -> None:
    out = _admin_create(tmp_path, "root@example.org")
    assert out.returncode == 0, out.stderr
    assert "admin root@example.org created" in out.stdout
    again = _admin_create(tmp_path, "ROOT@example.org")
    assert again.returncode == 1 and "exists" in again.stderr
    assert "Traceback" not in again.stderr
    async with running_app(tmp_path, secret_key="k" * 40) as (_, client):
        r = await client.post("/api/auth/login", json={"email": "root@example.org",
                                                       "password": "admin password 1"})
        assert r.status_code == 200, r.text
        assert r.json()["organizer"]["is_admin"] is True
        me = await client.get("/api/auth/me",
                              headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert me.json()["is_admin"] is True
        assert isinstance(client, httpx.AsyncClient)
