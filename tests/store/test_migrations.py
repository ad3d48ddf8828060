"""Migrations from an empty database to head, on SQLite and on a real PostgreSQL."""

import asyncio

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from mirp.store.db import Database, alembic_config

TABLES = {"organizers", "meetings", "booths", "invitations", "participants", "registrations",
          "attendance", "speaking_turns", "on_air_turns", "listening", "lifecycle",
          "quality_samples", "quality_totals", "failed_joins", "alembic_version"}


async def test_migrate_from_empty_to_head(db_url: str) -> None:
    db = Database(db_url)
    await db.start()
    try:
        async with db.engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))
                       ).scalar_one()
        assert TABLES <= names, TABLES - names
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert version == head
    finally:
        await db.close()
    # starting again on a migrated database is a no-op, not an error
    again = Database(db_url)
    await again.start()
    await again.ping()
    await again.close()


async def test_downgrade_to_base_and_back(db_url: str) -> None:
    from alembic import command

    db = Database(db_url)
    await db.start()
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))
        async with db.engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert not (TABLES - {"alembic_version"}) & names
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
        async with db.engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert TABLES <= names
    finally:
        await db.close()


async def test_two_servers_migrate_one_database_at_once(db_url: str) -> None:
    """Processes of a cluster start together: both come up, the schema is migrated once."""
    first, second = Database(db_url), Database(db_url)
    await asyncio.gather(first.start(), second.start())
    try:
        async with second.engine.connect() as conn:
            n = (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar_one()
        assert n == 1
    finally:
        await first.close()
        await second.close()


async def test_0004_on_a_database_at_0003_keeps_its_data(db_url: str) -> None:
    """A database in use at 0003 (statistics indexes) goes to head: its rows are intact, the
    invitations gain a null `country`, the two new tables start empty and take rows."""
    from alembic import command

    db = Database(db_url)
    await db.start()
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0003"))
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            assert not {"quality_samples", "quality_totals", "failed_joins"} & names
            for sql in (
                "INSERT INTO organizers (id, email, name, password_hash, is_admin, created_at)"
                " VALUES ('o1', 'o@x.example', 'O', '-', false, '2026-01-01 00:00:00+00')",
                "INSERT INTO meetings (id, owner_id, title, languages, under_levels_db,"
                " capacity, status, registration_open, created_at, updated_at) VALUES ('m1',"
                " 'o1', 'M', '[\"en\"]', '[0]', 10, 'open', false, '2026-01-01 00:00:00+00',"
                " '2026-01-01 00:00:00+00')",
                "INSERT INTO invitations (id, meeting_id, role, delegation, uses, expires_at,"
                " created_at) VALUES ('i1', 'm1', 'delegate', 'FRA', 1,"
                " '2027-01-01 00:00:00+00', '2026-01-01 00:00:00+00')",
                "INSERT INTO attendance (meeting_id, participant_id, name, role, kind, at)"
                " VALUES ('m1', 'p1', 'P', 'delegate', 'join', '2026-01-01 10:00:00+00')",
            ):
                await conn.execute(text(sql))
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
            invitation = (await conn.execute(text(
                "SELECT delegation, uses, country FROM invitations WHERE id = 'i1'"))).one()
            assert tuple(invitation) == ("FRA", 1, None)
            assert (await conn.execute(text("SELECT count(*) FROM attendance"))).scalar_one() == 1
            for table in ("quality_samples", "quality_totals", "failed_joins"):
                n = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
                assert n == 0, table
            await conn.execute(text(
                "INSERT INTO failed_joins (meeting_id, reason, at) VALUES"
                " ('m1', 'revoked', '2026-01-01 10:00:00+00')"))
            await conn.execute(text(
                "INSERT INTO quality_samples (meeting_id, participant_id, role, grade, at,"
                " rtt_ms, loss) VALUES ('m1', 'p1', 'delegate', 'good',"
                " '2026-01-01 10:00:00+00', 40.0, 0.0)"))
            await conn.execute(text("UPDATE invitations SET country = 'FR' WHERE id = 'i1'"))
    finally:
        await db.close()
