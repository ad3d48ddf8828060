"""Migration 0007 (the webcast and recording options) on a SQLite database in use: up and down
keep every row (a copy of `meetings` would cascade-delete everything that names a meeting)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from mirp.store.db import Database, alembic_config

ROWS = (
    "INSERT INTO organizers (id, email, name, password_hash, is_admin, created_at)"
    " VALUES ('o1', 'o@x.example', 'O', '-', false, '2026-01-01 00:00:00+00')",
    "INSERT INTO meetings (id, owner_id, title, languages, under_levels_db,"
    " capacity, status, registration_open, created_at, updated_at) VALUES ('m1',"
    " 'o1', 'M', '[\"en\"]', '[0]', 10, 'open', false, '2026-01-01 00:00:00+00',"
    " '2026-01-01 00:00:00+00')",
    "INSERT INTO invitations (id, meeting_id, role, delegation, uses, expires_at,"
    " created_at) VALUES ('i1', 'm1', 'delegate', 'FRA', 1,"
    " '2027-01-01 00:00:00+00', '2026-01-01 00:00:00+00')",
)


async def test_0007_up_and_down_keep_the_meetings_and_what_names_them(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")
    await db.start()
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0006"))
            for sql in ROWS:
                await conn.execute(text(sql))
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
            row = (await conn.execute(text(
                "SELECT webcast, recording, retention_days FROM meetings WHERE id = 'm1'"))).one()
            assert tuple(row) == ("off", False, None) or tuple(row) == ("off", 0, None)
            assert (await conn.execute(text("SELECT count(*) FROM invitations"))).scalar() == 1
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0006"))
            assert (await conn.execute(text("SELECT count(*) FROM invitations"))).scalar() == 1
            assert (await conn.execute(text("SELECT count(*) FROM meetings"))).scalar() == 1
    finally:
        await db.close()
