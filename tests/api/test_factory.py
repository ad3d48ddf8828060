"""The test factory works both ways (REST and repository) and its tokens are accepted by
Admission.authorize — other areas' tests build on it."""

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mirp.rooms.model import Role
from tests.support.factory import make_meeting, served_app

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_factory_http_and_db(app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = app_client
    for target in (client, app):
        fx = await make_meeting(target)
        assert fx.meeting["status"] == "open"
        assert set(fx.tokens) == {
            "chair", "delegate1", "delegate2", "delegate3", "interpreter_fr1",
            "interpreter_fr2", "interpreter_zh1", "interpreter_ar1", "observer"}
        grant = await app.state.admission.authorize(fx.tokens["interpreter_fr2"],
                                                    fx.meeting_id)
        assert grant.role is Role.INTERPRETER and grant.booth == "fr"
        assert grant.participant_id == fx.people["interpreter_fr2"].participant_id
        grant = await app.state.admission.authorize(fx.tokens["delegate2"], None)
        assert grant.delegation == "Delegation B" and grant.role is Role.DELEGATE
        spec = await app.state.admission.load_spec(fx.meeting_id)
        assert spec.languages == ("en", "fr", "zh", "ar")
        assert spec.booth("ar") is not None and spec.booth("ar").retour == "en"
        assert spec.booth("zh").understands == frozenset({"fr"})


async def test_served_app_listens_on_loopback(tmp_path: Path) -> None:
    """served_app: the same app behind uvicorn on 127.0.0.1 (for WebSocket clients)."""
    async with served_app(tmp_path) as served:
        assert served.ws_url.startswith("ws://127.0.0.1:")
        async with httpx.AsyncClient(base_url=served.base_url) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            fx = await make_meeting(client, delegates=1, interpreters={"fr": 1})
            inv = (await client.post(
                f"/api/meetings/{fx.meeting_id}/invitations", json={"role": "observer"},
                headers={"Authorization": f"Bearer {fx.organizer_token}"})).json()
            assert inv["join_url"].startswith(f"{served.base_url}/join.html#t=")
        grant = await served.app.state.admission.authorize(fx.tokens["chair"], fx.meeting_id)
        assert grant.name == "Chloé Chair"
