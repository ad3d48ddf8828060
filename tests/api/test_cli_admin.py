"""`mirp admin create` makes an administrator who can sign in; a second one with the same e-mail
fails clearly (exit 1, a message, no traceback)."""

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from mirp.cli import app as cli
from mirp.config import Settings
from mirp.store import accounts
from mirp.store.db import Database


def test_admin_create_then_login(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["admin", "create", "--email", "root@example.org", "--name", "Root",
            "--data-dir", str(tmp_path)]
    env = {"MIRP_ADMIN_PASSWORD": "admin password 1", "MIRP_SECRET_KEY": "k" * 40}
    out = runner.invoke(cli, args, env=env)
    assert out.exit_code == 0, out.output
    assert "admin root@example.org created" in out.output
    again = runner.invoke(cli, [*args[:3], "ROOT@example.org", *args[4:]], env=env)
    assert again.exit_code == 1 and "exists" in again.output, again.output
    assert again.exception is None or isinstance(again.exception, SystemExit)

    async def login() -> bool:
        db = Database(Settings(data_dir=tmp_path).resolved_database_url())
        await db.start()
        try:
            async with db.session() as s:
                organizer = await accounts.login(s, "root@example.org", "admin password 1")
                return organizer.is_admin
        finally:
            await db.close()

    assert asyncio.run(login()) is True
