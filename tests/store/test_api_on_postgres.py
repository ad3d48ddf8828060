"""The whole app on PostgreSQL: migrations at start, the factory's REST path, concurrent joins,
and /readyz."""

import asyncio
from pathlib import Path

from tests.support.factory import make_meeting, running_app
from tests.support.postgres import PostgresServer


async def test_app_on_postgres(tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("api")
    async with running_app(tmp_path, database_url=url) as (app, client):
        assert app.state.db.dialect == "postgresql"
        r = await client.get("/readyz")
        assert r.status_code == 200 and r.json()["checks"]["database"] == "ok"
        fx = await make_meeting(client)
        auth = {"Authorization": f"Bearer {fx.organizer_token}"}
        got = (await client.get(f"/api/meetings/{fx.meeting_id}", headers=auth)).json()
        assert got["booths"][1] == {"language": "zh", "retour": None, "understands": ["fr"],
                                    "auto_floor": True}
        inv = (await client.post(f"/api/meetings/{fx.meeting_id}/invitations", headers=auth,
                                 json={"role": "observer", "max_uses": 10})).json()
        results = await asyncio.gather(*(
            client.post("/api/join", json={"token": inv["token"], "name": f"P{i}"})
            for i in range(14)))
        assert sorted(r.status_code for r in results) == [200] * 10 + [403] * 4
        grant = await app.state.admission.authorize(fx.tokens["interpreter_ar1"], None)
        assert grant.booth == "ar"
        r = await client.delete(f"/api/meetings/{fx.meeting_id}", headers=auth)
        assert r.status_code == 204
