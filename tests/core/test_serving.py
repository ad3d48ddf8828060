"""`mirp serve` as a real process: slow request heads are cut off (slowloris), WebSockets and
normal requests are not; tokens never reach the access log; the data files are owner-only.

mirp/serving.py subclasses uvicorn's HTTP protocol (a few of its internals): these tests are the
guard that it still works with the uvicorn installed."""

import asyncio
import contextlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets

from tests.support.procs import free_port, stop
from tests.support.wait import Seen, until

pytestmark = pytest.mark.process


@dataclass
class Server:
    base: str
    port: int
    data: Path
    log: Path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "MIRP_DATA_DIR": str(tmp_path / "data"),
           "MIRP_LIMITS__HEAD_TIMEOUT_S": "1.5", "MIRP_LIMITS__BODY_TIMEOUT_S": "2",
           "MIRP_LOG_LEVEL": "info"}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mirp", "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> object:
        assert proc.poll() is None, f"server exited: {log.read_text()}"
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError as exc:
            return Seen(repr(exc))

    try:
        asyncio.run(until(healthy, "the server's /healthz", within=60, step=0.2,
                          tolerate=()))
        yield Server(base, port, tmp_path / "data", log)
    finally:
        stop(proc)


async def _drip(port: int, first: bytes, closed: list[int], i: int) -> None:
    """A slowloris connection: a request head, one byte every 0.3 s, never finished."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(first)
        for n in range(400):
            await writer.drain()
            writer.write(b"x-slow-%d: a\r\n" % n)
            await asyncio.sleep(0.3)
            if reader.at_eof():
                break
        if await reader.read() == b"" or reader.at_eof():
            closed.append(i)
    except (ConnectionError, OSError):
        closed.append(i)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


def test_slow_request_heads_are_closed_and_others_still_served(server: Server) -> None:
    async def main() -> None:
        closed: list[int] = []
        n = 60
        drips = [asyncio.create_task(_drip(server.port, b"GET / HTTP/1.1\r\nhost: x\r\n", closed,
                                           i)) for i in range(n)]
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as client:
            # a WebSocket outlives the head deadline: its head was complete (what is checked is
            # that nothing happens, so this waits out the deadline instead of polling)
            async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
                await asyncio.sleep(3.0)  # twice the head deadline
                await ws.send('{"type": "hello", "token": "nonsense"}')
                reply = await asyncio.wait_for(ws.recv(), 10)
                assert "error" in str(reply), reply
            # a keep-alive connection's NEXT head has a deadline too (the same connection)
            assert (await client.get("/healthz")).status_code == 200
            await until(lambda: len(closed) == n or Seen(len(closed)),
                        f"all {n} slow connections closed (count so far as last)", within=60)
            r = await client.get("/healthz")
            assert r.status_code == 200
        for d in drips:
            await d

    asyncio.run(main())


def test_a_slow_second_head_on_a_kept_alive_connection_is_closed(server: Server) -> None:
    async def main() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
        closed: list[int] = []

        async def drip() -> None:
            try:
                for n in range(400):
                    writer.write(b"GET / HTTP/1.1\r\n" if n == 0 else b"x-slow: a\r\n")
                    await writer.drain()
                    await asyncio.sleep(0.3)
            except (ConnectionError, OSError):
                closed.append(1)

        task = asyncio.create_task(drip())
        rest = await asyncio.wait_for(reader.read(), 60)  # returns at EOF: closed by the server
        closed.append(0)
        task.cancel()
        writer.close()
        assert rest == b"", rest  # no answer to the unfinished head: just closed

    asyncio.run(main())


def test_a_body_sent_a_byte_at_a_time_is_refused(server: Server) -> None:
    async def main() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /api/auth/login HTTP/1.1\r\nhost: x\r\n"
                     b"content-type: application/json\r\ncontent-length: 400\r\n\r\n")

        async def drip() -> None:
            with contextlib.suppress(ConnectionError, OSError):
                for _ in range(400):
                    writer.write(b" ")
                    await writer.drain()
                    await asyncio.sleep(0.3)

        task = asyncio.create_task(drip())
        answer = await asyncio.wait_for(reader.read(), 60)  # until the server closes
        task.cancel()
        writer.close()
        return answer

    answer = asyncio.run(main())
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"code":"timeout"' in answer


def test_tokens_never_reach_the_access_log(server: Server) -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.SECRET-INVITATION-TOKEN.sig"
    httpx.get(f"{server.base}/api/join", params={"token": secret})
    httpx.get(f"{server.base}/join.html", params={"t": secret})
    r = httpx.post(f"{server.base}/api/join/peek", json={"token": secret})
    assert r.status_code == 401, r.text
    asyncio.run(until(lambda: "/api/join/peek" in server.log.read_text(),
                      "the access log line of the peek"))
    log = server.log.read_text()
    assert "GET /api/join?token=[redacted]" in log
    assert "SECRET-INVITATION-TOKEN" not in log


def test_data_files_are_owner_only(server: Server) -> None:
    r = httpx.post(f"{server.base}/api/auth/signup", json={
        "email": "o@example.org", "name": "O", "password": "correct horse battery"})
    assert r.status_code == 201, r.text  # a password hash is now in the database
    assert stat.S_IMODE(server.data.stat().st_mode) == 0o700
    files = sorted(p.name for p in server.data.iterdir())
    assert "mirp.sqlite3" in files and "secret.key" in files, files
    for p in server.data.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, (p.name, oct(p.stat().st_mode))


def test_admin_create_refuses_a_weak_password(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "mirp", "admin", "create", "--email",
                          "root@example.org", "--data-dir", str(tmp_path)],
                         env={**os.environ, "MIRP_ADMIN_PASSWORD": " " * 12},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "password" in out.stderr, out
