"""The bench server process: the real media plane (or aiortc's stock path) behind a tiny control.

`--mode engine` runs mirp's MediaEngine + PeerFactory (encode once per FeedKey, one fan-out loop);
`--mode naive` runs what aiortc gives out of the box: every listener's sender gets
`MediaRelay().subscribe(tone)` of a decoded tone and encodes it itself.

The control is JSON lines over TCP on 127.0.0.1 (ops: offer, plan, switch, remove, stats, quit);
it prints `READY <port>` on stdout when it listens. It measures itself (getrusage, /proc RSS) so
the orchestrator can divide CPU by packets x listeners over a steady window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any, Protocol

from bench.common import (
    PatternTrack,
    cpu_seconds,
    dumps,
    loopback_only_ice,
    now,
    pin_to_cpu,
    raise_fd_limit,
    rss_kb,
    rtc_config,
)

log = logging.getLogger("bench.server")


class Backend(Protocol):
    admits_itself: bool  # bounds handshakes in flight on its own (PeerFactory does)

    async def start(self) -> None: ...
    async def offer(self, peer_id: str, role: str, key: Any, sdp: str) -> str: ...
    async def connected(self, peer_id: str) -> None: ...
    def plan(self, feeds: list[dict[str, Any]]) -> None: ...
    def switch(self, peer_id: str, key: Any) -> None: ...
    async def remove(self, peer_id: str) -> None: ...
    def stats(self) -> dict[str, Any]: ...


async def wait_connected(pc: Any, wait_s: float) -> None:
    """Until the peer connection is connected (or failed/closed, or the wait is over)."""
    done = asyncio.Event()

    def check() -> None:
        if pc.connectionState in ("connected", "failed", "closed"):
            done.set()

    pc.on("connectionstatechange", check)
    check()
    try:
        await asyncio.wait_for(done.wait(), wait_s)
    except TimeoutError:
        pass


class NaiveBackend:
    """aiortc's stock per-sender path: MediaRelay proxies of one decoded tone, one encoder each."""

    admits_itself = False

    def __init__(self) -> None:
        from aiortc.contrib.media import MediaRelay

        self.relay = MediaRelay()
        self.tone = PatternTrack("tone")
        self.pcs: dict[str, Any] = {}

    async def start(self) -> None:
        loopback_only_ice()

    async def offer(self, peer_id: str, role: str, key: Any, sdp: str) -> str:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection(rtc_config())
        self.pcs[peer_id] = pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        if role != "source":
            pc.addTrack(self.relay.subscribe(self.tone))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def connected(self, peer_id: str) -> None:
        await wait_connected(self.pcs[peer_id], 20.0)

    def plan(self, feeds: list[dict[str, Any]]) -> None:
        pass  # one tone for everybody

    def switch(self, peer_id: str, key: Any) -> None:
        raise RuntimeError("the naive server has one channel")

    async def remove(self, peer_id: str) -> None:
        pc = self.pcs.pop(peer_id, None)
        if pc is not None:
            await pc.close()

    def stats(self) -> dict[str, Any]:
        n = len(self.pcs)
        # every sender runs its own Opus encoder on the same feed
        return {"listeners": n, "feeds": 1, "encoders": n}


class ControlServer:
    def __init__(self, backend: Backend, admit: int) -> None:
        self.backend = backend
        self.admit = asyncio.Semaphore(admit)  # handshakes in flight, bounded
        self.switch_log: list[tuple[str, float]] = []

    async def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        op = msg.get("op")
        b = self.backend
        if op == "offer":
            args = (msg["id"], msg.get("role", "listener"), msg.get("key"), msg["sdp"])
            if b.admits_itself:
                return {"sdp": await b.offer(*args)}
            await self.admit.acquire()
            try:
                answer = await b.offer(*args)
            except BaseException:
                self.admit.release()
                raise
            # the slot is held until this peer's handshake is over, so at most `admit` run at once
            task = asyncio.create_task(b.connected(msg["id"]))
            task.add_done_callback(lambda _t: self.admit.release())
            return {"sdp": answer}
        if op == "plan":
            b.plan(msg["feeds"])
            return {}
        if op == "switch":
            t = now()
            b.switch(msg["id"], msg["key"])
            return {"t": t}
        if op == "remove":
            for peer_id in msg["ids"]:
                await b.remove(peer_id)
            return {}
        if op == "stats":
            return {"t": now(), "cpu": cpu_seconds(), "rss_kb": rss_kb(), "backend": b.stats()}
        raise ValueError(f"unknown op {op!r}")

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks: set[asyncio.Task[None]] = set()

        async def one(msg: dict[str, Any]) -> None:
            try:
                reply = {"rid": msg.get("rid"), "ok": True, **(await self.handle(msg))}
            except Exception as exc:
                log.warning("op %s failed: %r", msg.get("op"), exc)
                reply = {"rid": msg.get("rid"), "ok": False, "error": repr(exc)}
            writer.write(dumps(reply))

        while True:
            line = await reader.readline()
            if not line:
                break
            msg = json.loads(line)
            if msg.get("op") == "quit":
                writer.write(dumps({"rid": msg.get("rid"), "ok": True}))
                await writer.drain()
                sys.stdout.flush()
                # hundreds of peers: leaving at once is the point, not closing each politely
                import os

                os._exit(0)
            task = asyncio.create_task(one(msg))
            tasks.add(task)
            task.add_done_callback(tasks.discard)


def make_backend(mode: str) -> Backend:
    if mode == "naive":
        return NaiveBackend()
    from bench.engine_backend import EngineBackend

    return EngineBackend()


async def amain(args: argparse.Namespace) -> None:
    backend = make_backend(args.mode)
    await backend.start()
    control = ControlServer(backend, args.admit)
    server = await asyncio.start_server(control.connection, "127.0.0.1", 0, limit=1 << 22)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["engine", "naive"], default="engine")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    parser.add_argument("--admit", type=int, default=100, help="handshakes in flight at most")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    pin_to_cpu(args.cpu)
    raise_fd_limit()
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
