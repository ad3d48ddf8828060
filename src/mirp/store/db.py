"""The database: one async engine, sessions, and the migrations applied at start.

SQLite (aiosqlite) by default, PostgreSQL (asyncpg) by URL. `start()` brings the schema to the
Alembic head before anything else touches it, so a new data directory or an empty PostgreSQL
database just works, and an older one is upgraded in place.

Every call is bounded (`DbBounds`: connect, statement, pool wait), and a database that is away,
hung or busy surfaces as one error type, mirp.errors.Unavailable (REST 503 with Retry-After,
a retryable WebSocket close), raised by `session()`: never a bare 500, never a hang. Nothing
needs restarting when the database is back: the pool pings a connection before lending it
and replaces the dead ones.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from sqlalchemy import event, exc, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool

from mirp.config import Settings
from mirp.errors import Unavailable

log = logging.getLogger("mirp.store")
HERE = Path(__file__).resolve().parent
# The store's unit of work as the API's dependencies hand it to a route: named here so that no
# package but this one imports SQLAlchemy (the "store is the only SQL user" import contract).
SqlSession: TypeAlias = AsyncSession


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


@dataclass(frozen=True, slots=True)
class DbBounds:
    """How long anything may wait on the database (seconds), and the pool's size."""

    pool_size: int = 10
    pool_overflow: int = 10
    pool_timeout_s: float = 3.0  # waiting for a free connection of the pool
    connect_timeout_s: float = 3.0  # opening one (a hung server accepts, then says nothing)
    statement_timeout_s: float = 5.0  # one statement; SQLite: waiting for the write lock

    @classmethod
    def of(cls, settings: Settings) -> DbBounds:
        return cls(pool_size=settings.db_pool_size, pool_overflow=settings.db_pool_overflow,
                   pool_timeout_s=settings.db_pool_timeout_s,
                   connect_timeout_s=settings.db_connect_timeout_s,
                   statement_timeout_s=settings.db_statement_timeout_s)


RETRY_AFTER_S = 2  # what a 503 tells clients to wait before trying again

# What "the database is away, hung or too busy" looks like from here: the driver's connection
# and operational errors as SQLAlchemy wraps them (refused, reset, shutting down, statement or
# lock timeout, "database is locked"), the pool's own timeout, and a socket or asyncio timeout
# that escaped the driver unwrapped.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError,
    TimeoutError, ConnectionError, OSError)


# SQLSTATE classes that mean "not now" rather than "wrong": connection exceptions (08),
# insufficient resources such as too many connections (53), operator intervention: a statement
# cancelled by statement_timeout, a server shutting down or starting up (57)
_UNAVAILABLE_SQLSTATE = ("08", "53", "57")


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database is away, hung or too busy (worth retrying later)."""
    if isinstance(error, UNAVAILABLE_ERRORS):
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_SQLSTATE:
        return True
    # the driver's own timeout or socket error, wrapped by the adapter (a client-side
    # command_timeout arrives as a generic DBAPIError whose cause is a TimeoutError)
    cause: BaseException | None = error.orig
    for _ in range(4):
        if cause is None:
            break
        if isinstance(cause, TimeoutError | ConnectionError | OSError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def unavailable(error: BaseException) -> Unavailable:
    """The one mapping from a database failure to the error clients see (and may retry)."""
    log.warning("database unavailable: %s: %s", type(error).__name__, str(error)[:300])
    return Unavailable("the database is not answering; try again shortly",
                       {"reason": "database", "retry_after_s": RETRY_AFTER_S})


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit transactions off: we say BEGIN ourselves (below).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")  # first: the others may wait
        cur.execute("PRAGMA foreign_keys=ON")
        # switched once per file; asking again while another process writes can fail at once
        cur.execute("PRAGMA journal_mode")
        if str(cur.fetchone()[0]).lower() != "wal":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()
    return on_connect


def _engine_options(url: str, bounds: DbBounds) -> dict[str, Any]:
    pool = {"pool_pre_ping": True, "pool_size": bounds.pool_size,
            "max_overflow": bounds.pool_overflow, "pool_timeout": bounds.pool_timeout_s}
    if url.startswith("sqlite"):
        # the driver's `timeout` is SQLite's busy timeout (waiting for another writer)
        return {**pool, "connect_args": {"timeout": bounds.statement_timeout_s}}
    if url.startswith("postgresql+asyncpg"):
        return {**pool, "connect_args": {
            "timeout": bounds.connect_timeout_s,  # connection and authentication
            "command_timeout": bounds.statement_timeout_s,  # the client stops waiting...
            # ...and the server stops working on it (a cancelled statement frees its locks)
            "server_settings": {"statement_timeout": str(int(bounds.statement_timeout_s * 1000)),
                                "idle_in_transaction_session_timeout":
                                    str(int(bounds.statement_timeout_s * 4000))}}}
    return pool


MIGRATION_WAIT_S = 300.0  # how long starting may wait for another process's migration


def _make_engine(url: str, bounds: DbBounds) -> AsyncEngine:
    engine = create_async_engine(url, **_engine_options(url, bounds))
    if engine.dialect.name == "sqlite":
        # BEGIN IMMEDIATE: a transaction takes SQLite's write lock when it starts, waiting
        # (busy_timeout) for another one to finish. With the default deferred BEGIN, a
        # transaction that reads then writes fails at once ("database is locked") when
        # another wrote meanwhile: concurrent joins would get 500s instead of waiting.
        event.listen(engine.sync_engine, "connect",
                     _sqlite_pragmas(int(bounds.statement_timeout_s * 1000)))
        event.listen(engine.sync_engine, "begin",
                     lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine


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
    def __init__(self, url: str, bounds: DbBounds | None = None) -> None:
        self.url = url
        self.bounds = bounds or DbBounds()
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
        # Migrating has bounds of its own: another server process may be migrating the same
        # database (we queue on its lock), and a migration may run long; requests may not.
        migrating = _make_engine(self.url, DbBounds(
            pool_size=1, pool_overflow=0, pool_timeout_s=MIGRATION_WAIT_S,
            connect_timeout_s=self.bounds.connect_timeout_s,
            statement_timeout_s=MIGRATION_WAIT_S))
        try:
            async with migrating.begin() as conn:
                await conn.run_sync(_upgrade)
        finally:
            await migrating.dispose()
        engine = _make_engine(self.url, self.bounds)
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        log.info("database ready (%s)", engine.dialect.name)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any error. A
        database that does not answer raises Unavailable (see UNAVAILABLE_ERRORS)."""
        if self._sessions is None:
            raise Unavailable("the database is not started")
        try:
            async with self._sessions() as s, s.begin():
                yield s
        except Exception as error:
            if is_unavailable(error):
                raise unavailable(error) from error
            raise

    async def ping(self, timeout_s: float | None = None) -> None:
        """SELECT 1, within `timeout_s` (default: the connect timeout) whatever the driver
        does: /readyz must answer red quickly when the database hangs, not hang with it."""
        async with asyncio.timeout(timeout_s or self.bounds.connect_timeout_s):
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

    def pool_in_use(self) -> int | None:
        """Connections lent out now (/metrics); None when not started or not a counting pool."""
        pool = self._engine.pool if self._engine is not None else None
        return pool.checkedout() if isinstance(pool, QueuePool) else None

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = None
        self._sessions = None
