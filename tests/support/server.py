"""A real `mirp serve` process on 127.0.0.1 for tests and the benchmark: `serving(data, **env)`
for a fixture, or a `Server` that a test can kill (SIGKILL) and start again on the same data
directory and port, as a crash and a restart would (tests/integration/test_durability.py,
bench/restore.py). Extra keyword arguments are environment settings (`MIRP_...`)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support.factory import SECRET
from tests.support.procs import free_port, stop
from tests.support.wait import until, until_blocking

ROOT = Path(__file__).resolve().parents[2]


class Server:
    """One `mirp serve` process at a time on a fixed port and data directory."""

    def __init__(self, data: Path, database_url: str | None = None, **env: str) -> None:
        self.data = data
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/ws"
        self.env = {**os.environ, "MIRP_DATA_DIR": str(data), "MIRP_SECRET_KEY": SECRET,
                    "MIRP_ICE_LOOPBACK_ONLY": "true", "MIRP_PUBLIC_BASE_URL": self.base,
                    "MIRP_LIMITS__RECONNECT_GRACE_S": "120"}
        if database_url:
            self.env["MIRP_DATABASE_URL"] = database_url
        self.env.update(env)  # MIRP_... settings of this test
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def log(self) -> str:
        """The end of the current process's log (for assertion messages)."""
        return self.tail(60)

    def tail(self, lines: int) -> str:
        path = self.data / f"server{self.starts}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def spawn(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        self.data.mkdir(parents=True, exist_ok=True)
        with (self.data / f"server{self.starts}.log").open("wb") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "mirp", "serve", "--host", "127.0.0.1", "--port",
                 str(self.port)], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    async def start(self) -> None:
        proc = self.proc = self.spawn()
        async with httpx.AsyncClient() as http:

            async def healthy() -> bool:
                assert proc.poll() is None, f"the server exited:\n{self.log()}"
                try:
                    return (await http.get(f"{self.base}/healthz", timeout=1)).status_code == 200
                except httpx.HTTPError:
                    return False

            await until(healthy, lambda: f"/healthz answering:\n{self.log()}", 60, step=0.1,
                        tolerate=())

    def start_blocking(self) -> None:
        """`start` for synchronous fixtures."""
        proc = self.proc = self.spawn()

        def healthy() -> bool:
            assert proc.poll() is None, f"the server exited:\n{self.log()}"
            try:
                return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        until_blocking(healthy, lambda: f"/healthz answering:\n{self.log()}", 60, step=0.1,
                       tolerate=())

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (as a crash or an OOM kill)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


async def ack_then_kill(srv: Server, ws: Any, kind: str, **fields: Any) -> None:
    """Send a command on `ws` (tests/integration/conftest.py's WsClient) and SIGKILL the server
    the moment its ack arrives (the window in which an acknowledged decision used to be lost)."""
    ws.next_id += 1
    mid = ws.next_id
    await ws.ws.send(json.dumps({"type": kind, "id": mid, **fields}))

    def replied() -> bool:
        if mid in ws.replies:  # a close may follow it at once (meeting_close)
            return True
        assert ws.closed is None, f"closed before the reply to {kind}: {ws.closed}"
        return False

    # every millisecond: the kill must land right after the ack
    await until(replied, f"a reply to {kind}", 20, step=0.001, tolerate=())
    srv.kill()
    assert ws.replies[mid]["type"] == "ack", ws.replies[mid]


@contextlib.contextmanager
def serving(data: Path, **env: str) -> Iterator[Server]:
    """A `mirp serve` process for the duration (module or test fixtures), stopped after."""
    srv = Server(data, **env)
    srv.start_blocking()
    try:
        yield srv
    finally:
        srv.close()
