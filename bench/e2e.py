"""End to end through the real app: latency and switch over the WebSocket protocol and Room.

Everything the engine-level scenario emulates with a hand-made MixPlan happens here for real: the
chair takes the floor (`floor_give` to itself) and speaks 1 kHz pulses; the ar interpreter goes
on air (`on_air`) with a steady 440 Hz; the fr interpreter listens (auto relay: the floor); a
delegate subscribes to `fr` with nobody on air in that booth (auto-floor); another delegate
switches between `floor` and `ar` with `subscribe`, and hears the 440 Hz arrive. The participants
are aiortc peers in this (orchestrator) process, the app is bench/appserver.py in its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from typing import Any

from bench.common import (
    LineRpc,
    OnsetDetector,
    PatternTrack,
    loopback_only_ice,
    now,
    rtc_config,
)
from bench.harness import _child_env, _reap, cpu_plan

log = logging.getLogger("bench")


class WsParticipant:
    """One participant: a WebSocket Session (hello, offer, commands) and its peer connection."""

    def __init__(self, ws_url: str, token: str) -> None:
        self.ws_url, self.token = ws_url, token
        self.ws: Any = None
        self.pc: Any = None
        self.detector: OnsetDetector | None = None
        self._id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._welcome: asyncio.Future[dict[str, Any]] | None = None
        self._reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            kind = msg.get("type")
            if kind == "ping":
                await self.ws.send(json.dumps({"type": "pong", "t": msg.get("t")}))
            elif kind == "welcome" and self._welcome and not self._welcome.done():
                self._welcome.set_result(msg)
            elif kind == "error" and msg.get("fatal") and self._welcome \
                    and not self._welcome.done():
                self._welcome.set_exception(RuntimeError(f"hello refused: {msg}"))
            fut = self._pending.pop(msg.get("id", -1), None) if "id" in msg else None
            if fut is not None and not fut.done():
                fut.set_result(msg)

    async def request(self, msg: dict[str, Any], wait_s: float = 30.0) -> dict[str, Any]:
        self._id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._id] = fut
        await self.ws.send(json.dumps({**msg, "id": self._id}))
        reply = await asyncio.wait_for(fut, wait_s)
        if reply.get("type") == "error":
            raise RuntimeError(f"{msg['type']} refused: {reply}")
        return reply

    async def join(self, track: Any = None, detector: OnsetDetector | None = None,
                   send_detector: OnsetDetector | None = None) -> None:
        import websockets
        from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
        from aiortc.rtp import RtpPacket, is_rtcp

        self.ws = await websockets.connect(self.ws_url + "/ws", max_size=1 << 24)
        self._welcome = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        await self.ws.send(json.dumps({"type": "hello", "id": 0, "token": self.token}))
        await asyncio.wait_for(self._welcome, 30)
        self.pc = pc = RTCPeerConnection(rtc_config())
        tr = pc.addTransceiver(track if track is not None else "audio",
                               "sendrecv" if track is not None else "recvonly")
        caps = RTCRtpSender.getCapabilities("audio")
        tr.setCodecPreferences([c for c in caps.codecs if c.mimeType.lower() == "audio/opus"])
        await pc.setLocalDescription(await pc.createOffer())
        dtls = tr.receiver.transport
        if detector is not None:
            self.detector = det = detector

            async def on_rtp(data: bytes, arrival_time_ms: int) -> None:
                det.feed(RtpPacket.parse(data).payload, now())

            dtls._handle_rtp_data = on_rtp
        if send_detector is not None:
            sdet, send = send_detector, dtls._send_rtp

            async def on_send(data: bytes) -> None:
                if not is_rtcp(data):
                    sdet.feed(RtpPacket.parse(data).payload, now())
                await send(data)

            dtls._send_rtp = on_send
        answer = await self.request({"type": "offer", "sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self.pc is not None:
            with contextlib.suppress(Exception):
                await self.pc.close()


async def _start_app() -> tuple[asyncio.subprocess.Process, LineRpc, dict[str, Any]]:
    server_cpu, _ = cpu_plan()
    args = ["-m", "bench.appserver"] + (["--cpu", str(server_cpu)] if server_cpu is not None
                                        else [])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env=_child_env(), limit=1 << 22)
    assert proc.stdin is not None and proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 90)
    if not line.startswith(b"READY "):
        await _reap(proc)
        raise RuntimeError(f"the app server did not start: {line!r}")
    return proc, LineRpc(proc.stdout, proc.stdin), json.loads(line[6:])


async def run_e2e(pulses: int, switches: int, switch_wait_s: float,
                  settle_s: float) -> dict[str, Any]:
    from bench.scenarios import pair_latencies

    loopback_only_ice()  # the participants live in this process
    proc, rpc, info = await _start_app()
    ws, people = info["ws_url"], info["people"]
    ps: list[WsParticipant] = []

    def person(key: str) -> WsParticipant:
        p = WsParticipant(ws, people[key]["token"])
        ps.append(p)
        return p

    try:
        chair, ar, fr = person("chair"), person("interpreter_ar1"), person("interpreter_fr1")
        d_auto, d_switch = person("delegate2"), person("delegate3")
        spk = OnsetDetector()
        await chair.join(PatternTrack("pulse", 1000.0), send_detector=spk)
        await chair.request({"type": "floor_give", "participant_id": people["chair"]["id"]})
        await ar.join(PatternTrack("tone", 440.0))
        await ar.request({"type": "on_air", "on": True})
        await fr.join(PatternTrack("silence"), detector=OnsetDetector())
        await d_auto.join(detector=OnsetDetector())
        await d_auto.request({"type": "subscribe", "channel": "fr", "floor_under": None})
        await d_switch.join(detector=OnsetDetector(freq=440.0))
        await d_switch.request({"type": "subscribe", "channel": "floor", "floor_under": None})
        await asyncio.sleep(max(1.0, 2 * settle_s))
        t_start = now()
        await asyncio.sleep(0.6 * pulses + 0.3)
        sent = [t for t in spk.onsets if t >= t_start]
        lat = {
            "interpreter": pair_latencies(sent, _after(fr.detector, t_start), 0.5),
            "auto_floor": pair_latencies(sent, _after(d_auto.detector, t_start), 0.5),
        }
        switch_ms: list[float] = []
        ack_ms: list[float] = []
        for _ in range(switches):
            t_req = now()
            await d_switch.request({"type": "subscribe", "channel": "ar", "floor_under": None})
            ack_ms.append(1000.0 * (now() - t_req))
            while True:  # poll the marker until it hears the tone (or the wait is over)
                await asyncio.sleep(0.05)
                heard = _after(d_switch.detector, t_req)
                if heard or now() - t_req > switch_wait_s:
                    break
            if heard and heard[0] - t_req < switch_wait_s:
                switch_ms.append(1000.0 * (heard[0] - t_req))
            await d_switch.request({"type": "subscribe", "channel": "floor", "floor_under": None})
            await asyncio.sleep(0.3)
        stats = (await rpc.call("stats"))["backend"]
    finally:
        await asyncio.gather(*(p.close() for p in ps), return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(rpc.call("quit"), 5)
        await _reap(proc)
    return {
        "path": "WebSocket /ws -> Room -> MediaEngine (the real app)",
        "latency_ms": {k: [round(x, 2) for x in v] for k, v in lat.items()},
        "onsets_sent": len(sent),
        "switch_ms": [round(x, 2) for x in switch_ms],
        "switch_ack_ms": [round(x, 2) for x in ack_ms],
        "switches_tried": switches,
        "server": stats,
    }


def _after(det: OnsetDetector | None, t: float) -> list[float]:
    return [x for x in (det.onsets if det else []) if x >= t]
