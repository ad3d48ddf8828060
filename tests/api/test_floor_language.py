"""Automatic floor language, as a client written from the docs sees it: the delegate's language
comes from their invitation (docs/api.md), and when the chair gives them the floor with the
floor language on automatic, the `floor` event names that language (docs/rooms.md).

Plain WebSockets and REST against a served app; no media (no offer is made)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support.factory import organizer_token, served_app, standard_meeting_body
from tests.support.wait import Seen, until

pytestmark = pytest.mark.asyncio(loop_scope="package")


class _Session:
    """One participant's WebSocket, every message it receives kept in order."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.got: list[dict[str, Any]] = []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in self.ws:
                self.got.append(json.loads(text))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.got if m.get("type") == kind]


@contextlib.asynccontextmanager
async def _session(url: str, token: str) -> AsyncIterator[_Session]:
    async with websockets.connect(url) as ws:
        s = _Session(ws)
        try:
            await ws.send(json.dumps({"type": "hello", "id": 1, "token": token}))
            await until(lambda: s.of("welcome") or Seen(s.got), "a welcome")
            yield s
        finally:
            s.reader.cancel()


async def test_the_floor_speaks_the_holders_language(tmp_path: Path) -> None:
    async with served_app(tmp_path, media_process=False) as srv, httpx.AsyncClient(
            base_url=srv.base_url) as http:
        auth = {"Authorization": f"Bearer {await organizer_token(http)}"}
        m = (await http.post("/api/meetings", json=standard_meeting_body(),
                             headers=auth)).json()
        await http.patch(f"/api/meetings/{m['id']}", json={"status": "open"}, headers=auth)

        async def joined(invitation: dict[str, Any]) -> dict[str, Any]:
            inv = (await http.post(f"/api/meetings/{m['id']}/invitations", json=invitation,
                                   headers=auth)).json()
            r = await http.post("/api/join", json={"token": inv["token"]})
            assert r.status_code == 200, r.text
            return dict(r.json())

        chair = await joined({"role": "chair", "name": "Chloé"})
        delegate = await joined({"role": "delegate", "name": "Amélie", "language": "fr"})
        url = f"{srv.ws_url}/ws"
        async with _session(url, chair["participant_token"]) as c, _session(
                url, delegate["participant_token"]):
            floor = c.of("welcome")[0]["room"]["floor"]
            assert floor["language"] is None and floor["language_auto"] is True
            await c.ws.send(json.dumps({"type": "floor_give", "id": 2,
                                        "participant_id": delegate["participant_id"]}))

            def french_floor() -> Any:
                events = c.of("floor")
                if events and delegate["participant_id"] in events[-1]["holders"] and (
                        events[-1]["language"] == "fr"):
                    return events[-1]
                return Seen([m for m in c.got if m.get("type") in ("floor", "error")])

            floor = await until(french_floor, "the floor in the holder's language")
            assert floor["language_auto"] is True
