"""A real redis-server (Debian's package) for tests, on 127.0.0.1 and a free port.

Use the fixture: in your conftest.py, `from tests.support.redis import redis_server  # noqa: F401`,
then a test takes `redis_server: RedisServer` and uses `redis_server.url`
("redis://127.0.0.1:<port>/0"). One server per test session; no persistence (--save '',
--appendonly no); `redis_server.flush()` empties it. Outside pytest: `with start_redis() as r:`.

A missing redis-server FAILS the test (scripts/test.sh installs it): never a silent skip.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


class RedisServer:
    """One redis-server on 127.0.0.1 and a port of its own, which a test may also stop, freeze
    (SIGSTOP), thaw and start again on the same port (an outage; no persistence, so it comes
    back empty)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or REDIS_SERVER
        if not Path(binary).exists():
            pytest.fail("redis-server is not installed (Debian package redis-server; "
                        "scripts/test.sh installs it)")
        self.binary = binary
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="mirp-redis-"))
        self.log = self.workdir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

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

    def start(self) -> None:
        with self.log.open("ab") as out:
            proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir)],
                stdout=out, stderr=subprocess.STDOUT)
        self.proc = proc

        def answers() -> bool:
            assert proc.poll() is None, f"redis-server exited:\n{self.output()}"
            return self.ping()

        until_blocking(answers, lambda: f"redis-server answering:\n{self.output()}", 15,
                       step=0.02, tolerate=())

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
            stop(self.proc)
            self.proc = None

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextmanager
def start_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with start_redis() as server:
        yield server
