"""NUL characters and extreme dates on PostgreSQL (which refuses NUL in text, where SQLite
stores it): 422 `invalid_input` there too, never a 500."""

from pathlib import Path

import pytest

from tests.api.conftest import error
from tests.support.factory import organizer_token, running_app, standard_meeting_body
from tests.support.postgres import PostgresServer, postgres_server  # noqa: F401

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_nul_and_extreme_dates_on_postgres(tmp_path: Path,
                                                 postgres_server: PostgresServer,  # noqa: F811
                                                 ) -> None:
    url = postgres_server.create_database("hygiene")
    async with running_app(tmp_path, database_url=url) as (app, client):
        assert app.state.db.dialect == "postgresql"
        error(await client.post("/api/auth/signup", json={
            "email": "n@example.org", "name": "Nul\x00", "password": "correct horse battery"}),
            422, "invalid_input")
        error(await client.post("/api/auth/login", json={
            "email": "n\x00@example.org", "password": "correct horse battery"}),
            422, "invalid_input")
        error(await client.post("/api/join/peek", json={"token": "a\x00b"}), 422,
              "invalid_input")
        auth = {"Authorization": f"Bearer {await organizer_token(client)}"}
        error(await client.get("/api/meetings/m%00x", headers=auth), 422, "invalid_input")
        error(await client.post("/api/meetings", headers=auth, json=standard_meeting_body(
            title="Plenary\x00")), 422, "invalid_input")
        error(await client.post("/api/meetings", headers=auth, json=standard_meeting_body(
            starts_at="0001-01-01T00:00:00Z", ends_at="9999-12-31T23:59:59Z")), 422,
            "invalid_input")
        m = (await client.post("/api/meetings", headers=auth,
                               json=standard_meeting_body())).json()
        error(await client.post(f"/api/meetings/{m['id']}/invitations", headers=auth,
                                json={"role": "delegate", "name": "A\x00"}), 422,
              "invalid_input")
