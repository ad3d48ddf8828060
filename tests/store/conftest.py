"""Store tests run against SQLite AND a real PostgreSQL (started once per session)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mirp.config import Settings
from mirp.store.db import Database
from tests.support.factory import app_settings
from tests.support.postgres import PostgresServer, postgres_server  # noqa: F401


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return app_settings(tmp_path, database_url=db_url, public_base_url="https://mirp.example")


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await database.start()
    yield database
    await database.close()
