"""Join links without a configured public base URL follow the address the organizer used."""

from pathlib import Path

import pytest

from tests.support.factory import running_app, standard_meeting_body

pytestmark = pytest.mark.asyncio


async def test_join_links_follow_the_request_host(tmp_path: Path) -> None:
    async with running_app(tmp_path, public_base_url=None) as (_, client):
        r = await client.post("/api/auth/signup", json={
            "email": "o@example.org", "name": "O", "password": "correct horse battery"})
        assert r.status_code in (200, 201), r.text
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        m = (await client.post("/api/meetings", json=standard_meeting_body(), headers=auth)).json()
        for host in ("mirp.example:8443", "10.20.30.40:8000"):
            r = await client.post(f"/api/meetings/{m['id']}/invitations",
                                  json={"role": "delegate", "name": "D"},
                                  headers={**auth, "Host": host})
            assert r.status_code == 201, r.text
            assert r.json()["join_url"].startswith(f"http://{host}/join.html#t=")
