"""Migrations from an empty database to head, on SQLite and on a real PostgreSQL."""

import asyncio

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from mirp.store.db import Database, alembic_config

TABLES = {"organizers", "meetings", "booths", "invitations", "participants", "registrations",
          "attendance", "speaking_turns", "on_air_turns", "listening", "lifecycle",
          "alembic_version"}


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
