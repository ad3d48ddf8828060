"""Alembic environment. Two ways in:

- from the server (mirp.store.db.Database.start): a live synchronous connection is handed over in
  `config.attributes["connection"]` (taken from the async engine with `run_sync`), so migrations
  run inside the server's own event loop without a second engine;
- from the alembic command line: the URL comes from MIRP_DATABASE_URL (an async URL is fine).
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from mirp.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = os.environ.get("MIRP_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set MIRP_DATABASE_URL to the database to migrate")
    asyncio.run(_run_from_url(url))
