"""API tests: the real app (create_app, lifespan running) on a real SQLite file, via httpx.

One app serves all of tests/api (package scope: its start is the slow part); each test makes
its own organizers (`org`, `other`: fresh accounts), so tests never see each other's meetings.
Test modules here run in the package's event loop:
`pytestmark = pytest.mark.asyncio(loop_scope="package")`.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests.support.factory import organizer_token, running_app
from tests.support.redis import redis_server  # noqa: F401

BASE = "https://mirp.example"
AppClient = tuple[FastAPI, httpx.AsyncClient]


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def app_client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AppClient]:
    async with running_app(tmp_path_factory.mktemp("api"), public_base_url=BASE) as pair:
        yield pair


@pytest.fixture
def app(app_client: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return app_client[0]


@pytest.fixture
def client(app_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_client[1]


class Org:
    """One signed-in organizer: `await org.post(path, json)` etc. with their bearer token."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers, **kw)

    async def post(self, path: str, json: Any = None) -> httpx.Response:
        return await self.client.post(path, json=json, headers=self.headers)

    async def patch(self, path: str, json: Any) -> httpx.Response:
        return await self.client.patch(path, json=json, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.client.delete(path, headers=self.headers)


@pytest_asyncio.fixture(loop_scope="package")
async def org(client: httpx.AsyncClient) -> Org:
    """A fresh organizer (new account) for this test."""
    return Org(client, await organizer_token(client))


@pytest_asyncio.fixture(loop_scope="package")
async def other(client: httpx.AsyncClient) -> Org:
    """Another fresh organizer."""
    return Org(client, await organizer_token(client))


def error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the one error shape and return its body."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return dict(body["error"])
