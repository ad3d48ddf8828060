"""The orchestrator's handles on the server process and the client processes.

Every process is started with the same interpreter (`sys.executable -m bench.server|clients`), so
the bench runs from the project's venv with no other setup. The server goes on core 0 and the
clients (and this orchestrator) on the other cores when the machine has more than one, so that
"server CPU per listener" is the server's alone and "listeners per core" means what it says.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from bench.common import LineRpc, now, pin_to_cpu

PEERS_PER_CLIENT = 100


@functools.cache
def cpu_plan() -> tuple[int | None, int | None]:
    """(server core, client core) or (None, None) when there is one core only.

    Cached: it must be computed before this orchestrator pins itself to the client core."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, None
    if len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


async def _spawn(args: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env=_child_env(), limit=1 << 24,
    )


@dataclass
class ServerHandle:
    proc: asyncio.subprocess.Process
    rpc: LineRpc
    port: int

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        return await self.rpc.call(op, **args)

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.rpc.call("quit"), 5)
        except Exception:
            pass
        await _reap(self.proc)


@dataclass
class ClientHandle:
    proc: asyncio.subprocess.Process
    rpc: LineRpc
    peers: list[str] = field(default_factory=list)
    reserved: bool = False  # holds sources/markers only: no listeners are placed here

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        return await self.rpc.call(op, wait_s=args.pop("wait_s", 300.0), **args)

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.rpc.call("quit"), 5)
        except Exception:
            pass
        await _reap(self.proc)


async def _reap(proc: asyncio.subprocess.Process) -> None:
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()  # our own child, by its handle
        await proc.wait()


async def start_server(mode: str, admit: int = 100) -> ServerHandle:
    server_cpu, _ = cpu_plan()
    args = ["-m", "bench.server", "--mode", mode, "--admit", str(admit)]
    if server_cpu is not None:
        args += ["--cpu", str(server_cpu)]
    return await start_control_server(args)


async def start_control_server(args: list[str]) -> ServerHandle:
    """Start `python <args>` (a bench server that prints `READY <port>`) and connect to its
    line-RPC control port."""
    proc = await _spawn(args)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if not line.startswith(b"READY "):
        await _reap(proc)
        raise RuntimeError(f"bench server did not start: {line!r}")
    port = int(line.split()[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    return ServerHandle(proc, LineRpc(reader, writer), port)


async def start_client(server: ServerHandle) -> ClientHandle:
    _, client_cpu = cpu_plan()
    args = ["-m", "bench.clients", "--server", f"127.0.0.1:{server.port}"]
    if client_cpu is not None:
        args += ["--cpu", str(client_cpu)]
    proc = await _spawn(args)
    assert proc.stdin is not None and proc.stdout is not None
    handle = ClientHandle(proc, LineRpc(proc.stdout, proc.stdin))
    await handle.call("ping", wait_s=60)
    return handle


class Fleet:
    """The client processes of one scenario, filled `PEERS_PER_CLIENT` peers at a time."""

    def __init__(self, server: ServerHandle, per_client: int = PEERS_PER_CLIENT) -> None:
        self.server = server
        self.per_client = per_client
        self.clients: list[ClientHandle] = []
        self.where: dict[str, ClientHandle] = {}

    async def ensure_room(self, n: int) -> None:
        """Start enough client processes beforehand to take `n` more listeners."""
        free = sum(self.per_client - len(c.peers) for c in self.clients if not c.reserved)
        new = max(0, -(-(n - free) // self.per_client))
        self.clients += await asyncio.gather(*(start_client(self.server) for _ in range(new)))

    async def join(self, specs: list[dict[str, Any]], wait_s: float = 120.0,
                   concurrency: int = 100, own_process: bool = False,
                   into: ClientHandle | None = None) -> dict[str, Any]:
        """Open these peers (in parallel across processes); returns t0 and each peer's result.

        own_process: in a client process of their own that no listener shares later (sources
        and markers: their timing must not wait behind hundreds of listeners' handshakes);
        into: in that client process."""
        if own_process:
            reserved = await start_client(self.server)
            reserved.reserved = True
            self.clients.append(reserved)
        elif into is None:
            await self.ensure_room(len(specs))
        pool = [c for c in self.clients if c.reserved == own_process]
        if own_process:
            pool = pool[-1:]
        if into is not None:
            pool = [into]
        batches: dict[int, list[dict[str, Any]]] = {}
        for spec in specs:
            client = min(pool, key=lambda c: len(c.peers))
            client.peers.append(spec["id"])
            self.where[spec["id"]] = client
            batches.setdefault(self.clients.index(client), []).append(spec)
        t0 = now()
        replies = await asyncio.gather(*(
            self.clients[i].call("join", peers=b, concurrency=concurrency, deadline_s=wait_s,
                                wait_s=wait_s + 30)
            for i, b in batches.items()
        ))
        peers: dict[str, Any] = {}
        for r in replies:
            peers.update(r["peers"])
        return {"t0": t0, "peers": peers}

    async def snapshot(self) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(c.call("snapshot") for c in self.clients)))

    async def onsets(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for r in await asyncio.gather(*(c.call("onsets") for c in self.clients)):
            out.update(r["onsets"])
        return out

    async def leave(self, ids: list[str]) -> None:
        by: dict[int, list[str]] = {}
        for i in ids:
            client = self.where.pop(i)
            client.peers.remove(i)
            by.setdefault(id(client), []).append(i)
        await asyncio.gather(*(c.call("leave", ids=by[id(c)]) for c in self.clients if id(c) in by))

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.clients))
        self.clients = []


def pin_orchestrator() -> None:
    _, client_cpu = cpu_plan()
    pin_to_cpu(client_cpu)
