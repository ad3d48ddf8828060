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
        # the bulk path (worker-signed, one short insert) and the pages' keyset cursor
        path = f"/api/meetings/{fx.meeting_id}/invitations"
        text = "\n".join(f"Bulk {i:03d},Delegation {i % 5}" for i in range(150))
        r = await client.post(f"{path}/bulk", headers=auth, json={"csv": text})
        assert r.status_code == 201 and r.json()["count"] == 150, r.text
        names: list[str] = []
        url: str | None = f"{path}?limit=64"
        while url is not None:
            page = await client.get(url, headers=auth)
            names += [i["name"] for i in page.json() if (i["name"] or "").startswith("Bulk ")]
            link = page.headers.get("link")
            url = link[1:link.index(">")] if link else None
        assert names == [f"Bulk {i:03d}" for i in range(150)]
        export = await client.get(f"{path}.csv", headers=auth)
        assert export.status_code == 200 and export.text.count("Bulk ") == 150
        r = await client.delete(f"/api/meetings/{fx.meeting_id}", headers=auth)
        assert r.status_code == 204
