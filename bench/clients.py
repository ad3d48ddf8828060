"""A bench client process: many aiortc peers (listeners, markers, sources) driven over stdin.

Listeners must be cheap, because they share the machine with the server they measure: their RTP is
counted straight from the UDP socket (sequence numbers read from the SRTP header, which is not
encrypted; see Pump) and never decrypted, jitter-buffered or decoded. STUN, DTLS and RTCP still
take aiortc's normal path, so ICE consent and the server's RTCP keep working. Marker listeners
(a few) decrypt and decode, to time tone onsets; sources send a tone pattern through aiortc's
stock sender.

Commands (JSON lines on stdin, replies on stdout): join, snapshot, onsets, leave, quit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import select
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.common import (
    LineRpc,
    OnsetDetector,
    PatternTrack,
    cpu_seconds,
    dumps,
    loopback_only_ice,
    now,
    pin_to_cpu,
    raise_fd_limit,
    rtc_config,
)

log = logging.getLogger("bench.clients")


class CountSink:
    """Counts one listener's RTP packets and the gaps in their sequence numbers."""

    __slots__ = ("ext", "first_t", "gaps", "last", "received")

    def __init__(self) -> None:
        self.received = 0
        self.ext = -1  # highest extended sequence number seen
        self.last = -1
        self.gaps = 0  # net missing packets (a late arrival gives one back)
        self.first_t: float | None = None

    def packet(self, data: bytes) -> None:
        seq = (data[2] << 8) | data[3]
        self.received += 1
        if self.last < 0:
            self.last = seq
            self.ext = seq
            self.first_t = time.monotonic()
            return
        delta = (seq - self.last) & 0xFFFF
        if delta == 0:
            self.received -= 1  # duplicate
        elif delta < 0x8000:
            self.ext += delta
            self.gaps += delta - 1
            self.last = seq
        else:
            self.gaps -= 1  # a late packet filling an earlier gap

    def row(self) -> list[int]:
        return [self.received, self.ext, self.gaps]


class Pump:
    """Reads every counting listener's UDP socket from one epoll, in one loop callback per burst.

    asyncio spends ~15 µs of Python per datagram (a handle per ready socket, then the protocol
    call); the server sends each tick's packet to all listeners at once, so here one callback
    drains all the ready sockets with a bare `recvfrom` each (a few µs). RTP is counted from
    its clear-text header and dropped; anything else (STUN, DTLS, RTCP) goes on to aioice's
    protocol as usual.
    """

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.ep = select.epoll()
        self.socks: dict[int, tuple[Any, Any, CountSink]] = {}
        self.loop.add_reader(self.ep.fileno(), self.drain)

    def adopt(self, proto: Any, sink: CountSink) -> None:
        transport = proto.transport
        sock = transport._sock  # the raw socket: asyncio hands out a wrapper without recvfrom
        fd = sock.fileno()
        self.loop._remove_reader(fd)  # type: ignore[attr-defined]  # the public one refuses
        self.ep.register(fd, select.EPOLLIN)
        self.socks[fd] = (sock, proto, sink)

    def forget(self, proto: Any) -> None:
        for fd, (_, p, _) in list(self.socks.items()):
            if p is proto:
                del self.socks[fd]
                with contextlib.suppress(OSError):
                    self.ep.unregister(fd)

    def drain(self) -> None:
        for fd, _ in self.ep.poll(0):
            entry = self.socks.get(fd)
            if entry is None:
                continue
            sock, proto, sink = entry
            for _ in range(64):
                try:
                    data, addr = sock.recvfrom(2048)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    self.socks.pop(fd, None)
                    with contextlib.suppress(OSError):
                        self.ep.unregister(fd)
                    break
                # RTP (version 2: first byte 128..191), not RTCP (second byte 192..223)
                if 127 < data[0] < 192 and not 191 < data[1] < 224:
                    sink.packet(data)
                else:
                    proto.datagram_received(data, addr)


@dataclass
class Peer:
    id: str
    role: str  # listener | marker | source
    pc: Any
    sink: CountSink
    detector: OnsetDetector | None = None
    error: str | None = None


def _opus_only(transceiver: Any) -> None:
    from aiortc import RTCRtpSender

    caps = RTCRtpSender.getCapabilities("audio")
    transceiver.setCodecPreferences([c for c in caps.codecs if c.mimeType.lower() == "audio/opus"])


class ClientProcess:
    def __init__(self, server: LineRpc) -> None:
        self.server = server
        self.peers: dict[str, Peer] = {}
        self.pump = Pump()
        self._rtcp = asyncio.create_task(self._receiver_reports())

    async def _receiver_reports(self) -> None:
        """An RTCP receiver report per counting listener per second, as a browser sends.

        The counting path never hands RTP to aiortc's receiver, so it would send no RTCP; the
        server's vanished-peer watchdog (and its RTCP handling cost) should see what it sees
        from real clients.
        """
        from aiortc.rtp import RtcpRrPacket

        while True:
            await asyncio.sleep(1.0)
            for peer in list(self.peers.values()):
                if peer.role != "listener" or peer.pc.connectionState != "connected":
                    continue
                receiver = peer.pc.getTransceivers()[0].receiver
                rr = bytes(RtcpRrPacket(ssrc=receiver._RTCRtpReceiver__rtcp_ssrc))
                with contextlib.suppress(Exception):
                    await receiver.transport._send_rtp(rr)

    async def open_peer(self, spec: dict[str, Any], sem: asyncio.Semaphore) -> None:
        from aiortc import RTCPeerConnection, RTCSessionDescription
        from aiortc.rtp import RtpPacket, is_rtcp

        pid, role = spec["id"], spec.get("role", "listener")
        pc = RTCPeerConnection(rtc_config())
        peer = Peer(pid, role, pc, CountSink())
        self.peers[pid] = peer
        async with sem:
            try:
                if role == "source":
                    tr = pc.addTransceiver(PatternTrack(spec.get("pattern", "pulse")), "sendrecv")
                else:
                    tr = pc.addTransceiver("audio", direction=spec.get("direction", "recvonly"))
                _opus_only(tr)
                await pc.setLocalDescription(await pc.createOffer())
                dtls = tr.receiver.transport
                if role == "listener":
                    for proto in dtls.transport._connection._protocols:
                        self.pump.adopt(proto, peer.sink)
                elif role == "marker":
                    det = peer.detector = OnsetDetector()
                    sink = peer.sink

                    async def on_rtp(data: bytes, arrival_time_ms: int) -> None:
                        t = now()
                        sink.packet(data)
                        det.feed(RtpPacket.parse(data).payload, t)

                    dtls._handle_rtp_data = on_rtp
                else:
                    det = peer.detector = OnsetDetector()
                    send = dtls._send_rtp

                    async def on_send(data: bytes) -> None:
                        if not is_rtcp(data):
                            det.feed(RtpPacket.parse(data).payload, now())
                        await send(data)

                    dtls._send_rtp = on_send
                reply = await self.server.call(
                    "offer", id=pid, role=role, key=spec.get("key"), sdp=pc.localDescription.sdp
                )
                await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
            except Exception as exc:
                peer.error = repr(exc)
                log.warning("peer %s: %r", pid, exc)

    async def join(self, peers: list[dict[str, Any]], concurrency: int, wait_s: float) -> dict:
        sem = asyncio.Semaphore(max(1, concurrency))
        t0 = now()
        await asyncio.gather(*(self.open_peer(spec, sem) for spec in peers))
        ids = [spec["id"] for spec in peers]
        deadline = t0 + wait_s

        def waiting() -> list[str]:
            out = []
            for i in ids:
                p = self.peers[i]
                if p.error is None and p.role != "source" and p.sink.first_t is None:
                    out.append(i)
            return out

        while True:  # poll: the first packets arrive through the counting fast path
            if not waiting() or now() >= deadline:
                break
            await asyncio.sleep(0.05)
        result = {}
        for i in ids:
            p = self.peers[i]
            result[i] = {
                "first": p.sink.first_t,
                "error": p.error
                or (None if p.sink.first_t or p.role == "source" else "no packet before deadline"),
                "state": p.pc.connectionState,
            }
        return {"t0": t0, "peers": result}

    def snapshot(self) -> dict[str, Any]:
        return {
            "t": now(),
            "cpu": cpu_seconds(),
            "peers": {i: p.sink.row() for i, p in self.peers.items() if p.role != "source"},
        }

    def onsets(self) -> dict[str, Any]:
        return {
            "onsets": {i: p.detector.onsets for i, p in self.peers.items() if p.detector},
            "packets": {i: p.detector.packets for i, p in self.peers.items() if p.detector},
        }

    async def leave(self, ids: list[str]) -> dict[str, Any]:
        peers = [self.peers.pop(i) for i in ids if i in self.peers]
        for p in peers:
            for t in p.pc.getTransceivers():
                for proto in t.receiver.transport.transport._connection._protocols:
                    self.pump.forget(proto)
        await asyncio.gather(*(p.pc.close() for p in peers), return_exceptions=True)
        return {"left": len(peers)}


async def serve(args: argparse.Namespace) -> None:
    host, port = args.server.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 22)
    proc = ClientProcess(LineRpc(reader, writer))
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    out = sys.stdout.buffer

    async def handle(msg: dict[str, Any]) -> None:
        op = msg.get("op")
        try:
            if op == "join":
                res = await proc.join(msg["peers"], msg.get("concurrency", 100), msg["deadline_s"])
            elif op == "snapshot":
                res = proc.snapshot()
            elif op == "onsets":
                res = proc.onsets()
            elif op == "leave":
                res = await proc.leave(msg["ids"])
            elif op == "ping":
                res = {"pid": os.getpid()}
            else:
                raise ValueError(f"unknown op {op!r}")
            reply = {"rid": msg.get("rid"), "ok": True, **res}
        except Exception as exc:
            log.exception("op %s", op)
            reply = {"rid": msg.get("rid"), "ok": False, "error": repr(exc)}
        out.write(dumps(reply))
        out.flush()

    tasks = set()
    while True:
        line = await stdin.readline()
        if not line:
            break
        msg = json.loads(line)
        if msg.get("op") == "quit":
            out.write(dumps({"rid": msg.get("rid"), "ok": True}))
            out.flush()
            break
        task = asyncio.create_task(handle(msg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    # Closing hundreds of peers one by one is slow and measures nothing: leave at once.
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", required=True, help="host:port of the bench server control")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    pin_to_cpu(args.cpu)
    raise_fd_limit()
    loopback_only_ice()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
