"""Quality and refused joins recorded end to end, as a client written from the docs sees it:
a served app, plain WebSockets (no media), the report read over REST. A forged token says
nothing about a meeting unless it is sent to that meeting's address; a genuine token refused
(revoked) is counted for its own meeting, with its participant."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support.factory import organizer_token, served_app, standard_meeting_body
from tests.support.wait import Seen, until

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def _refused(url: str, token: str) -> int | None:
    """Say hello with `token`; the close code the server answers with."""
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", "id": 1, "token": token}))
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in ws:
                pass
        return ws.close_code


async def test_refusals_and_quality_reach_the_report(tmp_path: Path) -> None:
    async with served_app(tmp_path, media_process=False) as srv, httpx.AsyncClient(
            base_url=srv.base_url) as http:
        auth = {"Authorization": f"Bearer {await organizer_token(http)}"}
        m = (await http.post("/api/meetings", json=standard_meeting_body(),
                             headers=auth)).json()
        mid = m["id"]
        await http.patch(f"/api/meetings/{mid}", json={"status": "open"}, headers=auth)

        async def joined(invitation: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            inv = (await http.post(f"/api/meetings/{mid}/invitations", json=invitation,
                                   headers=auth)).json()
            r = await http.post("/api/join", json={"token": inv["token"]})
            assert r.status_code == 200, r.text
            return inv, dict(r.json())

        _, delegate = await joined({"role": "delegate", "name": "Amina", "delegation": "Kenya",
                                    "country": "KE"})
        revoked_inv, revoked = await joined({"role": "delegate", "name": "Luc"})
        await http.delete(f"/api/meetings/{mid}/invitations/{revoked_inv['id']}", headers=auth)

        assert await _refused(f"{srv.ws_url}/ws", "forged") == 4401  # nobody's: not recorded
        assert await _refused(f"{srv.ws_url}/ws/{mid}", "forged") == 4401
        assert await _refused(f"{srv.ws_url}/ws", revoked["participant_token"]) == 4403

        async with websockets.connect(f"{srv.ws_url}/ws") as ws:
            await ws.send(json.dumps({"type": "hello", "id": 1,
                                      "token": delegate["participant_token"]}))
            got: list[dict[str, Any]] = []

            async def welcomed() -> Any:
                got.append(json.loads(await ws.recv()))
                return any(g.get("type") == "welcome" for g in got) or Seen(got)

            await until(welcomed, "a welcome")
            for k, (grade, rtt) in enumerate((("good", 0.04), ("poor", 0.6))):
                await ws.send(json.dumps({"type": "quality", "id": 2 + k, "grade": grade,
                                          "rtt": rtt, "loss": 0.01}))

            async def recorded() -> Any:
                rep = (await http.get(f"/api/meetings/{mid}/report", headers=auth)).json()
                done = (sum(f["count"] for f in rep["failed_joins"]) >= 2
                        and sum(q["samples"] for q in rep["quality"]) >= 2)
                return rep if done else Seen({k: rep[k] for k in ("failed_joins", "quality")})

            rep = await until(recorded, "the refusals and the samples in the report")
        assert sorted((f["reason"], f["count"]) for f in rep["failed_joins"]) == [
            ("malformed", 1), ("revoked", 1)]  # a forged token is a malformed one
        (quality,) = rep["quality"]
        assert (quality["role"], quality["samples"], quality["good"], quality["poor"],
                quality["rtt_ms_p50"], quality["rtt_ms_p99"]) == ("delegate", 2, 1, 1, 40.0,
                                                                  600.0)
        assert rep["delegations"] == [{"delegation": "Kenya", "country": "KE",
                                       "participants": 1}]
        trends = (await http.get("/api/trends", headers=auth)).json()
        (row,) = trends["rows"]
        assert (row["countries"], row["quality_samples"], row["quality_good_share"],
                row["rtt_ms_mean"]) == (1, 2, 0.5, 320.0)
