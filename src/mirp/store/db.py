"""The database: one async engine, sessions, and the migrations applied at start.

SQLite (aiosqlite) by default, PostgreSQL (asyncpg) by URL. `start()` brings the schema to the
Alembic head before anything else touches it, so a new data directory or an empty PostgreSQL
database just works, and an older one is upgraded in place.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from mirp.errors import Unavailable

log = logging.getLogger("mirp.store")
HERE = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


MIGRATION_LOCK = 0x6D697270  # "mirp": the PostgreSQL advisory lock taken while migrating


def _upgrade(connection: Connection) -> None:
    """Migrate to head inside the caller's transaction. Several server processes may start at
    once on one database (a cluster): on PostgreSQL they queue on an advisory lock held until
    the transaction ends; on SQLite the transaction itself (BEGIN IMMEDIATE) serializes them.
    Whoever comes second finds the schema at head and does nothing."""
    from alembic import command

    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    command.upgrade(alembic_config(connection), "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit transactions off: we say BEGIN ourselves (below).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def private_sqlite_file(url: str) -> None:
    """A SQLite database holds password hashes: make its file owner-only (0600) before SQLite
    opens it. SQLite gives its -wal and -shm files the database file's mode; files of an older
    install are tightened too."""
    if not url.startswith("sqlite") or ":memory:" in url or "///" not in url:
        return
    path = Path(url.split("///", 1)[1].split("?", 1)[0])
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            p.chmod(0o600)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise Unavailable("the database is not started")
        return self._engine

    async def start(self) -> None:
        """Connect and migrate to head. Idempotent."""
        if self._engine is not None:
            return
        private_sqlite_file(self.url)
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.url.startswith("sqlite"):
            kwargs = {"connect_args": {"timeout": 30}}
        engine = create_async_engine(self.url, **kwargs)
        if engine.dialect.name == "sqlite":
            # BEGIN IMMEDIATE: a transaction takes SQLite's write lock when it starts, waiting
            # (busy_timeout) for another one to finish. With the default deferred BEGIN, a
            # transaction that reads then writes fails at once ("database is locked") when
            # another wrote meanwhile: concurrent joins would get 500s instead of waiting.
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(engine.sync_engine, "begin",
                         lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_upgrade)
        except Exception:
            await engine.dispose()
            raise
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        log.info("database ready (%s)", engine.dialect.name)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any error."""
        if self._sessions is None:
            raise Unavailable("the database is not started")
        async with self._sessions() as s, s.begin():
            yield s

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = None
        self._sessions = None
