"""A real redis-server (Debian's package) for tests, on 127.0.0.1 and a free port.

Use the fixture: in your conftest.py, `from tests.support.redis import redis_server  # noqa: F401`,
then a test takes `redis_server: RedisServer` and uses `redis_server.url`
("redis://127.0.0.1:<port>/0"). One server per test session; no persistence (--save '',
--appendonly no); `redis_server.flush()` empties it. Outside pytest: `with start_redis() as r:`.

A missing redis-server FAILS the test (scripts/test.sh installs it): never a silent skip.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.procs import free_port, stop
from tests.support.wait import until_blocking

REDIS_SERVER = "/usr/bin/redis-server"


def dead_url() -> str:
    """A redis URL where nothing listens (a port just freed)."""
    return f"redis://127.0.0.1:{free_port()}/0"


def _command(port: int, *words: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(f"*{len(words)}\r\n".encode() + b"".join(
            f"${len(w)}\r\n{w}\r\n".encode() for w in words))
        return s.recv(1024)


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        try:
            return _command(self.port, "PING").startswith(b"+PONG")
        except OSError:
            return False

    def flush(self) -> None:
        _command(self.port, "FLUSHALL")


@contextmanager
def start_redis() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server") or REDIS_SERVER
    if not Path(binary).exists():
        pytest.fail("redis-server is not installed (Debian package redis-server; "
                    "scripts/test.sh installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="mirp-redis-"))
    port = free_port()
    log = workdir / "redis.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir)],
            stdout=out, stderr=subprocess.STDOUT)
    server = RedisServer(port, proc, log)
    try:

        def answers() -> bool:
            assert proc.poll() is None, f"redis-server exited:\n{output()}"
            return server.ping()

        def output() -> str:
            return log.read_text(errors="replace")

        until_blocking(answers, lambda: f"redis-server answering:\n{output()}", 15, step=0.02,
                       tolerate=())
        yield server
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with start_redis() as server:
        yield server
