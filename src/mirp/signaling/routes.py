"""The WebSocket endpoint: `/ws` (the meeting comes from the token) and `/ws/{meeting_id}`."""

from __future__ import annotations

import contextlib
import logging

from fastapi import APIRouter, WebSocket

from mirp.config import Settings
from mirp.errors import Unavailable
from mirp.metrics import tally_of
from mirp.rooms.door import RoomDoor
from mirp.signaling.admission import AdmissionControl
from mirp.signaling.handlers import SessionHandler
from mirp.signaling.protocol import error_message
from mirp.signaling.session import Session, encode

log = logging.getLogger("mirp.signaling")


class StarletteSocket:
    """Starlette's WebSocket as a session.Socket."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.closed = False

    async def receive(self) -> str | bytes | None:
        if self.closed:
            return None
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            self.closed = True
            return None
        text = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def send(self, text: str) -> None:
        await self.ws.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            await self.ws.close(code, reason)


async def serve(ws: WebSocket, meeting_id: str | None) -> None:
    await ws.accept()
    registry: RoomDoor | None = getattr(ws.app.state, "rooms", None)
    settings: Settings = ws.app.state.settings
    if registry is None:  # started without its lifespan
        err = Unavailable("the server is starting")
        with contextlib.suppress(Exception):
            await ws.send_text(encode(error_message(err, fatal=True)))
            await ws.close(err.ws_close, err.message)
        return
    ice = [s.model_dump(exclude_none=True) for s in settings.ice_servers]
    session = Session(StarletteSocket(ws), settings.limits, ice)
    client_ip = ws.client.host if ws.client is not None else "?"
    tally = tally_of(ws.app.state)
    tally.websockets_open += 1
    try:
        await SessionHandler(
            session, registry, meeting_id, admission=shared_admission(ws), client_ip=client_ip,
            tally=tally,
        ).serve()
    finally:
        tally.websockets_open -= 1


def shared_admission(ws: WebSocket) -> AdmissionControl:
    """The app's one AdmissionControl (hello gate, per-address limits), made on first use so that
    app.py needs no wiring for it."""
    admission: AdmissionControl | None = getattr(ws.app.state, "admission_control", None)
    if admission is None:
        admission = AdmissionControl(ws.app.state.settings)
        ws.app.state.admission_control = admission
    return admission


def build_router() -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws")
    async def ws_endpoint(websocket: WebSocket) -> None:
        await serve(websocket, None)

    @router.websocket("/ws/{meeting_id}")
    async def ws_meeting(websocket: WebSocket, meeting_id: str) -> None:
        await serve(websocket, meeting_id)

    return router
