"""End-to-end fixtures: the real app served by uvicorn on 127.0.0.1, WebSocket clients speaking
the protocol (the `websockets` package), and aiortc peers (tests/support/rtc.py) as microphones
and ears. States are awaited by polling with a deadline; failures say what was last seen."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from websockets.asyncio.client import ClientConnection

from mirp.media.compat import loopback_gathering
from tests.support.factory import MeetingFixture, ServedApp, make_meeting, served_app
from tests.support.rtc import RtcClient
from tests.support.wait import until


class WsClient:
    """One Session: sends requests with ids, collects everything the server sends."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        self.messages: list[dict[str, Any]] = []
        self.replies: dict[Any, dict[str, Any]] = {}
        self.next_id = 0
        self.closed: tuple[int | None, str] | None = None
        self.welcome: dict[str, Any] | None = None
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, name: str = "client") -> WsClient:
        ws = await websockets.connect(url, max_size=2**22, ping_interval=None)
        return cls(ws, name)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                self.messages.append(msg)
                if msg.get("type") == "welcome":
                    self.welcome = msg
                if msg.get("id") is not None and msg.get("type") in (
                    "ack",
                    "error",
                    "answer",
                    "pong",
                ):
                    self.replies[msg["id"]] = msg
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = (self.ws.close_code, self.ws.close_reason or "")

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def request(self, kind: str, /, within: float = 20.0, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        mid = self.next_id
        await self.ws.send(json.dumps({"type": kind, "id": mid, **fields}))
        return await until(
            lambda: (
                self.replies.get(mid) or (self.closed and {"closed": True, "code": self.closed})
            ),
            f"{self.name}: reply to {kind}",
            within,
        )

    async def ok(self, kind: str, /, **fields: Any) -> dict[str, Any]:
        reply = await self.request(kind, **fields)
        assert reply.get("type") in ("ack", "answer", "pong"), f"{self.name} {kind}: {reply}"
        return reply

    async def hello(self, token: str, **fields: Any) -> dict[str, Any]:
        await self.ws.send(json.dumps({"type": "hello", "id": 0, "token": token, **fields}))
        return await until(
            lambda: self.welcome or (self.closed and {"closed": self.closed}),
            f"{self.name}: welcome",
        )

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def last(self, kind: str) -> dict[str, Any] | None:
        found = self.events(kind)
        return found[-1] if found else None

    async def wait_closed(self, within: float = 20.0) -> tuple[int | None, str]:
        return await until(lambda: self.closed, f"{self.name}: closed", within)  # type: ignore

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader


class Attendee:
    """A participant: a Session plus (optionally) a peer with a tone for a microphone."""

    def __init__(self, person_key: str, ws: WsClient, rtc: RtcClient | None) -> None:
        self.key = person_key
        self.ws = ws
        self.rtc = rtc

    @property
    def id(self) -> str:
        assert self.ws.welcome is not None
        return str(self.ws.welcome["participant_id"])


class LightListener:
    """A recvonly peer that counts RTP packets without decoding them: many of these cost the
    test process little, so the server's fan-out can be checked with 50 listeners on 2 cores."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.transceiver = self.pc.addTransceiver("audio", direction="recvonly")
        self.packets = 0

        async def count(packet: Any, arrival_time_ms: int) -> None:
            self.packets += 1

        self.transceiver.receiver._handle_rtp_packet = count

    async def connect(self, ws: WsClient) -> None:
        offer = await self.pc.createOffer()
        with loopback_gathering():
            await self.pc.setLocalDescription(offer)
        reply = await ws.request("offer", sdp=self.pc.localDescription.sdp)
        assert reply.get("type") == "answer", f"{self.name}: {reply}"
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.pc.close()


class Harness:
    def __init__(self, served: ServedApp, meeting: MeetingFixture) -> None:
        self.served = served
        self.app = served.app
        self.meeting = meeting
        self.attendees: list[Attendee] = []
        self.light: list[tuple[WsClient, LightListener]] = []

    @property
    def url(self) -> str:
        return self.served.ws_url + "/ws"

    async def session(self, key: str, url: str | None = None) -> WsClient:
        ws = await WsClient.open(url or self.url, key)
        welcome = await ws.hello(self.meeting.tokens[key])
        assert welcome.get("type") == "welcome", f"{key}: {welcome}"
        return ws

    async def attend(
        self, key: str, tone_hz: float | None = None, *, media: bool = True,
        keep_seconds: float | None = None,
    ) -> Attendee:
        ws = await self.session(key)
        rtc = None
        if media:
            rtc = (RtcClient(tone_hz, name=key) if keep_seconds is None
                   else RtcClient(tone_hz, keep_seconds=keep_seconds, name=key))

            async def signal(sdp: str) -> str:
                reply = await ws.request("offer", sdp=sdp)
                assert reply.get("type") == "answer", f"{key}: {reply}"
                return str(reply["sdp"])

            await rtc.connect(signal)
            await rtc.wait_connected(within_s=20.0)
        a = Attendee(key, ws, rtc)
        self.attendees.append(a)
        return a

    async def attend_light(self, key: str, token: str | None = None) -> LightListener:
        ws = await WsClient.open(self.url, key)
        welcome = await ws.hello(token or self.meeting.tokens[key])
        assert welcome.get("type") == "welcome", f"{key}: {welcome}"
        listener = LightListener(key)
        self.light.append((ws, listener))
        await listener.connect(ws)
        return listener

    @property
    def media(self) -> Any:
        """The media plane (in a child process unless the settings say otherwise)."""
        return self.app.state.media

    async def stats(self) -> Any:
        """The media engine's counters (EngineStats), asked of the media plane."""
        return (await self.media.stats()).engine

    @property
    def rooms(self) -> Any:
        return self.app.state.rooms

    async def close(self) -> None:
        for ws, listener in self.light:
            await listener.close()
            await ws.close()
        for a in self.attendees:
            if a.rtc is not None:
                await a.rtc.close()
            await a.ws.close()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[ServedApp]:
    async with served_app(tmp_path, limits={"reconnect_grace_s": 20.0, "heartbeat_s": 10.0}) as s:
        yield s


@pytest.fixture
async def harness(served: ServedApp) -> AsyncIterator[Harness]:
    fx = await make_meeting(served.app)
    h = Harness(served, fx)
    try:
        yield h
    finally:
        await h.close()
