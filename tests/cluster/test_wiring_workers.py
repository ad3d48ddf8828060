"""`mirp serve --workers N` (serving.Supervisor): N real worker processes on one port, each a
node of the cluster; a worker killed is started again under the same node id; SIGTERM to the
supervisor stops every worker; without Redis the command says what is missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.factory import SECRET
from tests.support.procs import free_port, stop
from tests.support.redis import RedisServer
from tests.support.server import ROOT
from tests.support.wait import Seen, until_blocking

pytestmark = [pytest.mark.process, pytest.mark.redis]


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MIRP_DATA_DIR": str(tmp_path), "MIRP_SECRET_KEY": SECRET,
            "MIRP_ICE_LOOPBACK_ONLY": "true", **extra}


def test_workers_need_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in _env(tmp_path).items() if k != "MIRP_REDIS_URL"}
    done = subprocess.run([sys.executable, "-m", "mirp", "serve", "--workers", "2", "--port",
                           str(free_port())], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done
    assert "Redis" in done.stderr and "--workers" in done.stderr, done.stderr


def test_workers_share_the_port_and_come_back(tmp_path: Path,
                                                    redis_server: RedisServer) -> None:
    port = free_port()
    prefix = f"k{os.getpid()}"
    log = (tmp_path / "supervisor.log").open("wb")
    sup = subprocess.Popen(
        [sys.executable, "-m", "mirp", "serve", "--workers", "2", "--port", str(port),
         "--redis-url", redis_server.url],
        cwd=ROOT, env=_env(tmp_path, MIRP_NODE_ID="box", MIRP_REDIS_PREFIX=prefix,
                           MIRP_LIMITS__LEASE_TTL_S="2"),
        stdout=log, stderr=subprocess.STDOUT)

    def tail() -> str:
        return (tmp_path / "supervisor.log").read_text(errors="replace")[-3000:]

    def exited() -> bool:
        return "exited (-9)" in (tmp_path / "supervisor.log").read_text(errors="replace")

    try:
        def nodes_seen(want: set[str]) -> object:
            seen: set[str] = set()
            for _ in range(12):  # each a new connection: the kernel gives it to either worker
                try:
                    r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=3)
                except httpx.HTTPError:
                    continue
                if r.status_code == 200:
                    seen.add(r.json()["cluster"]["node_id"])
            return seen >= want or Seen(f"{sorted(seen)}\n{tail()}")

        both = {"box-0", "box-1"}
        until_blocking(lambda: nodes_seen(both), "both workers answering on the one port", 90)
        assert (tmp_path / "journal-box-0.bin").exists()
        assert (tmp_path / "journal-box-1.bin").exists()
        workers = _children(sup.pid)
        assert len(workers) == 2, workers
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)

        def replaced() -> object:
            now = _children(sup.pid)
            return (len(now) == 2 and victim not in now) or Seen(now)

        until_blocking(replaced, "the killed worker started again", 30)
        until_blocking(lambda: nodes_seen(both), "both node ids answering again", 90)
        assert exited(), tail()

        workers = _children(sup.pid)
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(60) == 0, tail()
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(
                f"/proc/{pid}/status").read_text(), f"worker {pid} still runs"
    finally:
        if sup.poll() is None:
            stop(sup)
        log.close()
