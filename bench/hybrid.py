"""Hybrid meetings: what a WHEP listener costs, and how long the room waits for a remote reply.

`python -m bench.hybrid` (about a minute; `--listeners`, `--window`, `--pulses`). The whole app
(create_app() under uvicorn, SQLite, the media engine on the app's own loop so that one process
holds all of the server's CPU) runs in a child process pinned to one core; the peers run here.

- `whep_us_per_packet_listener`: the meeting room publishes a steady tone by WHIP
  (`POST /whip/{meeting}`); `--listeners` WHEP players (`POST /whep/{meeting}/floor`, recvonly,
  packets counted, never decoded) listen; the server's CPU over a `--window` ÷ the packets they
  received, minus the same window with no listener (the source, the mix and the one encode):
  the marginal cost of one listener per packet. `browser_us_per_packet_listener` is the same with
  as many browser-style listeners (WebSocket `hello`, `offer` recvonly) on the same channel: the
  goal is the same figure, since both are fed by the one fan-out (encoded once).
- `room_roundtrip_ms`: the room (WHIP, sendrecv: it hears the floor minus itself) and a remote
  delegate holding the floor (WebSocket) both send 200 ms pulses. One way is the first decoded
  20 ms frame over -35 dBFS in what one side's packets carry as they leave it, to the same in
  what the other side receives as it arrives (raw RTP, no jitter buffer: the clients' buffers and
  the delegate's reaction time are not the server's). The round trip is room → delegate plus
  delegate → room (p50 of each): the server's share of "the room speaks, the remote delegate's
  reply comes out of the PA", two passes through the mixer. Goal ≤ 60 ms.

Writes bench/results/hybrid.json and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    LineRpc,
    OnsetDetector,
    PatternTrack,
    answer_stdin,
    cpu_seconds,
    loopback_only_ice,
    now,
    percentile,
    pin_to_cpu,
    raise_fd_limit,
    rtc_config,
)
from bench.e2e import WsParticipant
from bench.harness import _child_env, _reap, cpu_plan
from bench.scenarios import pair_latencies

log = logging.getLogger("bench.hybrid")
RESULTS = Path(__file__).parent / "results" / "hybrid.json"


# ------------------------------------------------------------------------------ the app server

async def serve(listeners: int) -> None:
    from tests.support.factory import join_token, make_meeting, served_app

    with tempfile.TemporaryDirectory(prefix="mirp-bench-hybrid-") as tmp:
        async with served_app(Path(tmp), media_process=False,
                              rate_limits={"enabled": False}) as served:
            fx = await make_meeting(served.app, delegates=1, interpreters={},
                                    observer=False)
            await join_token(served.app, fx, "room", name="Plenary hall", key="room")
            for i in range(2 * listeners):
                await join_token(served.app, fx, "observer", key=f"o{i}")
            info = {"base": served.base_url, "ws_url": served.ws_url,
                    "meeting_id": fx.meeting_id,
                    "people": {k: {"id": p.participant_id, "token": p.token}
                               for k, p in fx.people.items()}}
            print("READY " + json.dumps(info), flush=True)

            async def stats() -> dict[str, Any]:
                engine = (await served.app.state.media.stats()).engine
                return {"t": now(), "cpu": cpu_seconds(), "engine": dataclasses.asdict(engine)}

            await answer_stdin(stats)
    os._exit(0)


# ------------------------------------------------------------------------------ the peers

class HttpPeer:
    """A WHIP publisher or a WHEP player (aiortc), offering over HTTP as the specs say."""

    def __init__(self, endpoint: str, token: str) -> None:
        self.endpoint, self.token = endpoint, token
        self.pc: Any = None
        self.resource: str | None = None
        self.packets = 0
        self.detector: OnsetDetector | None = None

    async def start(self, http: Any, track: Any = None, detector: OnsetDetector | None = None,
                    send_detector: OnsetDetector | None = None) -> None:
        from urllib.parse import urljoin

        from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
        from aiortc.rtp import RtpPacket, is_rtcp

        self.pc = pc = RTCPeerConnection(rtc_config())
        tr = pc.addTransceiver(track if track is not None else "audio",
                               "sendrecv" if track is not None else "recvonly")
        caps = RTCRtpSender.getCapabilities("audio")
        tr.setCodecPreferences([c for c in caps.codecs if c.mimeType.lower() == "audio/opus"])
        await pc.setLocalDescription(await pc.createOffer())
        dtls = tr.receiver.transport
        det = self.detector = detector

        async def on_rtp(data: bytes, arrival_time_ms: int) -> None:
            self.packets += 1
            if det is not None:
                det.feed(RtpPacket.parse(data).payload, now())

        # counted (and decoded only for a marker): no jitter buffer
        dtls._handle_rtp_data = on_rtp  # type: ignore[method-assign]
        if send_detector is not None:
            sdet, send = send_detector, dtls._send_rtp

            async def on_send(data: bytes) -> None:
                if not is_rtcp(data):
                    sdet.feed(RtpPacket.parse(data).payload, now())
                await send(data)

            dtls._send_rtp = on_send  # type: ignore[method-assign]
        r = await http.post(self.endpoint, content=pc.localDescription.sdp, headers={
            "Content-Type": "application/sdp", "Authorization": f"Bearer {self.token}"})
        if r.status_code != 201:
            raise RuntimeError(f"{self.endpoint}: {r.status_code} {r.text}")
        self.resource = urljoin(self.endpoint, r.headers["location"])
        await pc.setRemoteDescription(RTCSessionDescription(r.text, "answer"))

    async def close(self, http: Any) -> None:
        if self.resource is not None:
            with contextlib.suppress(Exception):
                await http.delete(self.resource, headers={"Authorization": f"Bearer {self.token}"})
        if self.pc is not None:
            with contextlib.suppress(Exception):
                await self.pc.close()


class CountingWs(WsParticipant):
    """A browser-style listener: WebSocket hello and offer; packets counted, never decoded."""

    packets = 0

    async def listen(self) -> None:
        await self.join()
        dtls = self.pc.getTransceivers()[0].receiver.transport

        async def count(data: bytes, arrival_time_ms: int) -> None:
            self.packets += 1

        dtls._handle_rtp_data = count


async def _window(rpc: LineRpc, peers: list[Any], seconds: float) -> tuple[float, int]:
    """(server CPU seconds, packets the peers received) over `seconds`."""
    a, pa = await rpc.call("stats"), sum(p.packets for p in peers)
    await asyncio.sleep(seconds)
    b, pb = await rpc.call("stats"), sum(p.packets for p in peers)
    return b["cpu"] - a["cpu"], pb - pa


async def _connected(peers: list[Any], within_s: float = 60.0) -> None:
    deadline = now() + within_s
    while any(p.packets == 0 for p in peers):
        if now() > deadline:
            raise RuntimeError(f"{sum(p.packets == 0 for p in peers)} listeners got no packet")
        await asyncio.sleep(0.1)


async def _in_batches(coros: list[Any], size: int = 10) -> None:
    for i in range(0, len(coros), size):
        await asyncio.gather(*coros[i:i + size])


async def run(listeners: int, window: float, pulses: int) -> dict[str, Any]:
    import httpx

    loopback_only_ice()
    server_cpu, _ = cpu_plan()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.hybrid", "--serve", "--listeners", str(listeners),
        *(["--cpu", str(server_cpu)] if server_cpu is not None else []),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=_child_env(),
        limit=1 << 22)
    assert proc.stdin is not None and proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 120)
    if not line.startswith(b"READY "):
        await _reap(proc)
        raise RuntimeError(f"the app server did not start: {line!r}")
    rpc = LineRpc(proc.stdout, proc.stdin)
    info = json.loads(line[6:])
    base, mid, people = info["base"], info["meeting_id"], info["people"]
    tokens = [people[f"o{i}"]["token"] for i in range(2 * listeners)]
    out: dict[str, Any] = {"listeners": listeners, "window_s": window,
                           "load_average_1m_before": round(os.getloadavg()[0], 2)}
    async with httpx.AsyncClient(timeout=60.0) as http:
        room_sent, room_heard = OnsetDetector(), OnsetDetector()
        room = HttpPeer(f"{base}/whip/{mid}", people["room"]["token"])
        delegate = WsParticipant(info["ws_url"], people["delegate1"]["token"])
        chair = WsParticipant(info["ws_url"], people["chair"]["token"])
        whep: list[HttpPeer] = []
        browsers: list[CountingWs] = []
        try:
            # --- the listener's cost: WHEP, then browser-style, on the room's floor
            await room.start(http, PatternTrack("tone", 1000.0))
            await asyncio.sleep(2.0)
            cpu0, _ = await _window(rpc, [], window)
            whep = [HttpPeer(f"{base}/whep/{mid}/floor", t) for t in tokens[:listeners]]
            await _in_batches([p.start(http) for p in whep])
            await _connected(whep)
            await asyncio.sleep(2.0)
            cpu_w, packets_w = await _window(rpc, whep, window)
            await asyncio.gather(*(p.close(http) for p in whep))
            browsers = [CountingWs(info["ws_url"], t) for t in tokens[listeners:]]
            await _in_batches([b.listen() for b in browsers])
            await _connected(browsers)
            await asyncio.sleep(2.0)
            cpu_b, packets_b = await _window(rpc, browsers, window)
            await asyncio.gather(*(b.close() for b in browsers))

            def marginal(cpu: float, packets: int) -> float | None:
                return round(1e6 * (cpu - cpu0) / packets, 2) if packets else None

            out.update({
                "whep_us_per_packet_listener": marginal(cpu_w, packets_w),
                "browser_us_per_packet_listener": marginal(cpu_b, packets_b),
                "whep_packets_per_listener_s": round(packets_w / listeners / window, 1),
                "browser_packets_per_listener_s": round(packets_b / listeners / window, 1),
                "baseline_cpu_pct": round(100 * cpu0 / window, 1),
            })
            await room.close(http)
            # --- the round trip: the room and a remote delegate holding the floor
            room = HttpPeer(f"{base}/whip/{mid}", people["room"]["token"])
            await room.start(http, PatternTrack("pulse", 1000.0), detector=room_heard,
                             send_detector=room_sent)
            await chair.join()
            del_sent, del_heard = OnsetDetector(), OnsetDetector()
            await delegate.join(PatternTrack("pulse", 600.0), detector=del_heard,
                                send_detector=del_sent)
            await chair.request({"type": "floor_give",
                                 "participant_id": people["delegate1"]["id"]})
            await asyncio.sleep(2.0)
            t0 = now()
            await asyncio.sleep(0.6 * pulses + 0.3)
            out_way = pair_latencies([t for t in room_sent.onsets if t >= t0],
                                     [t for t in del_heard.onsets if t >= t0], 0.5)
            back_way = pair_latencies([t for t in del_sent.onsets if t >= t0],
                                      [t for t in room_heard.onsets if t >= t0], 0.5)
            out.update({
                "room_to_remote_ms_p50": p50(out_way),
                "remote_to_room_ms_p50": p50(back_way),
                "room_to_remote_ms_p95": _r(percentile(out_way, 95)),
                "remote_to_room_ms_p95": _r(percentile(back_way, 95)),
                "room_roundtrip_ms": (round(p50(out_way) + p50(back_way), 1)  # type: ignore[operator]
                                      if out_way and back_way else None),
                "onsets": {"room_to_remote": len(out_way), "remote_to_room": len(back_way)},
            })
        finally:
            await asyncio.gather(*(p.close(http) for p in whep), room.close(http),
                                 *(b.close() for b in browsers), delegate.close(),
                                 chair.close(), return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(rpc.call("quit"), 5)
            await _reap(proc)
    return out


def p50(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def table(r: dict[str, Any]) -> str:
    rows = [
        ("whep_us_per_packet_listener", r.get("whep_us_per_packet_listener"),
         "= browser_us_per_packet_listener"),
        ("browser_us_per_packet_listener", r.get("browser_us_per_packet_listener"), ""),
        ("room_roundtrip_ms", r.get("room_roundtrip_ms"), "<= 60"),
        ("room_to_remote_ms_p50", r.get("room_to_remote_ms_p50"), ""),
        ("remote_to_room_ms_p50", r.get("remote_to_room_ms_p50"), ""),
    ]
    lines = [f"{'key':<34} {'value':>10}  goal", "-" * 60]
    lines += [f"{k:<34} {v!s:>10}  {g}" for k, v, g in rows]
    lines.append(f"({r['listeners']} listeners, {r['window_s']} s windows, server baseline "
                 f"{r.get('baseline_cpu_pct')} % of a core, load average "
                 f"{r.get('load_average_1m_before')} before the run)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listeners", type=int, default=40)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--pulses", type=int, default=12)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    raise_fd_limit()
    if args.serve:
        pin_to_cpu(args.cpu)
        asyncio.run(serve(args.listeners))
        return
    _, client_cpu = cpu_plan()
    pin_to_cpu(client_cpu)
    result = asyncio.run(run(args.listeners, args.window, args.pulses))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))


if __name__ == "__main__":
    main()
