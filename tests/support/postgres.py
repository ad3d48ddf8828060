"""A real PostgreSQL 15 (Debian's package) for tests, started by the suite itself.

initdb refuses to run as root, so as root the server runs as the `postgres` user
(`runuser -u postgres --`) in a temporary directory it owns; it listens on 127.0.0.1 and a free
port, with a unix socket in that directory, fsync off (about 2 s to start).

Use the fixture: `from tests.support.postgres import postgres_server  # noqa: F401` in a
conftest.py; `postgres_server.create_database()` returns the SQLAlchemy URL
("postgresql+asyncpg://postgres@127.0.0.1:<port>/<new db>") of a new, empty database.
Outside pytest: `with start_postgres() as pg:`.

A missing PostgreSQL FAILS the test (scripts/test.sh installs it): never a silent skip.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.procs import free_port
from tests.support.wait import until_blocking

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PostgresServer:
    port: int
    workdir: Path
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "mirp") -> str:
        name = f"{prefix}_{next(self._names)}_{os.getpid()}"
        out = subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             name], capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            pytest.fail(f"createdb {name} failed: {out.stderr}")
        return self.url(name)

    def log(self) -> str:
        try:
            return (self.workdir / "postgres.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (fast: open connections are cut), keeping its data: an outage."""
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.workdir / "data"),
                                     "-m", "fast", "-w", "stop"]), capture_output=True,
                       timeout=60, check=True)

    def start(self) -> None:
        """Start it again after `stop()`, on the same port, and wait until it answers."""
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.workdir / "data"),
                                     "-o", _options(self.port, self.workdir), "-l",
                                     str(self.workdir / "postgres.log"), "-w", "-t", "30",
                                     "start"]), capture_output=True, timeout=60, check=True,
                       cwd=self.workdir)


def _options(port: int, workdir: Path) -> str:
    return (f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off")


@contextmanager
def start_postgres() -> Iterator[PostgresServer]:
    initdb, pg_ctl = PG_BIN / "initdb", PG_BIN / "pg_ctl"
    if not initdb.exists() or not pg_ctl.exists():
        pytest.fail(f"PostgreSQL 15 is not installed ({initdb} missing; Debian package "
                    "postgresql; scripts/test.sh installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="mirp-pg-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    data = workdir / "data"
    port = free_port()

    def run(cmd: list[str], what: str) -> None:
        out = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, timeout=60,
                             cwd=workdir)
        if out.returncode != 0:
            log = (workdir / "postgres.log")
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            pytest.fail(f"{what} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}\n{tail}")

    started = False
    try:
        run([str(initdb), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"], "initdb")
        run([str(pg_ctl), "-D", str(data), "-o", _options(port, workdir), "-l",
             str(workdir / "postgres.log"), "-w", "-t", "30", "start"], "pg_ctl start")
        started = True
        server = PostgresServer(port, workdir)
        until_blocking(
            lambda: subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p",
                                    str(port)], capture_output=True).returncode == 0,
            lambda: f"PostgreSQL ready:\n{server.log()[-3000:]}", 15)
        yield server
    finally:
        if started:
            subprocess.run(_as_postgres([str(pg_ctl), "-D", str(data), "-m", "immediate",
                                         "-w", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with start_postgres() as server:
        yield server
