"""Abuse resistance of the unauthenticated doors: rate limits (429 `rate_limited` with
Retry-After), growing back-off on wrong passwords, closed signup, the password policy.

Each test runs its own app (rate limits on; the package's shared app has them off) on a real
SQLite file, through httpx."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mirp.api.throttle import Throttle
from mirp.config import RateLimits
from mirp.errors import RateLimited
from tests.api.conftest import error
from tests.support.factory import organizer_token, running_app, standard_meeting_body

pytestmark = pytest.mark.asyncio(loop_scope="package")
PW = "correct horse battery"


@asynccontextmanager
async def limited_app(tmp_path: Path,
                      **rates: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app with rate limits on, on a stopped clock: nothing refills or expires by itself
    while a test runs, however slow the machine."""
    async with running_app(tmp_path, rate_limits={"enabled": True, **rates}) as (app, client):
        app.state.throttle = Throttle(app.state.settings.rate_limits, clock=lambda: 1000.0)
        yield app, client


def rate_limited(r: httpx.Response) -> float:
    err = error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    return float(err["details"]["retry_after_s"])


async def test_wrong_passwords_earn_a_growing_wait(tmp_path: Path) -> None:
    async with limited_app(tmp_path, login_free_failures_per_account=3,
                           login_per_account=(1000, 60.0)) as (_, client):
        await organizer_token(client, "victim@example.org", PW)
        wrong = {"email": "victim@example.org", "password": "not the password"}
        for _ in range(3):
            error(await client.post("/api/auth/login", json=wrong), 401, "unauthorized")
        # the 4th wrong one is checked (401) and starts a wait; the next is refused unhashed
        error(await client.post("/api/auth/login", json=wrong), 401, "unauthorized")
        assert rate_limited(await client.post("/api/auth/login", json=wrong)) == 2.0
        # even the right password waits: the guesser cannot tell
        rate_limited(await client.post("/api/auth/login",
                                       json={"email": "victim@example.org", "password": PW}))
        # another account from the same address is not locked out by these
        await organizer_token(client, "bystander@example.org", PW)
        r = await client.post("/api/auth/login",
                              json={"email": "bystander@example.org", "password": PW})
        assert r.status_code == 200, r.text


async def test_backoff_doubles_per_failure_and_a_success_resets_it() -> None:
    now = [1000.0]
    rates = RateLimits(login_free_failures_per_account=2, login_free_failures_per_ip=100,
                       login_backoff_max_s=60.0)
    throttle = Throttle(rates, clock=lambda: now[0])
    waits = []
    for _ in range(10):
        try:
            throttle.check_login("10.0.0.1", "acct")
        except RateLimited as exc:
            waits.append(exc.retry_after_s)
            now[0] += exc.retry_after_s
        throttle.login_failed("10.0.0.1", "acct")
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0], waits
    now[0] += 60.0
    throttle.login_succeeded("acct")
    throttle.login_failed("10.0.0.1", "acct")
    throttle.check_login("10.0.0.1", "acct")  # one failure after a success: no wait yet


async def test_login_per_address(tmp_path: Path) -> None:
    async with limited_app(tmp_path, login_per_ip=(5, 60.0)) as (_, client):
        for i in range(5):
            error(await client.post("/api/auth/login", json={
                "email": f"nobody{i}@example.org", "password": "whatever pw"}), 401,
                "unauthorized")
        rate_limited(await client.post("/api/auth/login", json={
            "email": "nobody9@example.org", "password": "whatever pw"}))


async def test_signup_per_address(tmp_path: Path) -> None:
    async with limited_app(tmp_path, signup_per_ip=(3, 3600.0)) as (_, client):
        for i in range(3):
            r = await client.post("/api/auth/signup", json={
                "email": f"o{i}@example.org", "name": "O", "password": PW})
            assert r.status_code == 201, r.text
        wait = rate_limited(await client.post("/api/auth/signup", json={
            "email": "o9@example.org", "name": "O", "password": PW}))
        assert wait > 60  # 3 an hour: the next in about 20 minutes


async def test_anonymous_registration_per_address_and_per_email(tmp_path: Path) -> None:
    async with limited_app(tmp_path, registration_per_ip=(5, 3600.0),
                           registration_per_account=(2, 3600.0)) as (_, client):
        auth = {"Authorization": f"Bearer {await organizer_token(client)}"}
        m = (await client.post("/api/meetings", headers=auth, json=standard_meeting_body(
            registration_open=True))).json()
        url = f"/api/meetings/{m['id']}/registrations"
        same = {"name": "Rita", "email": "rita@example.org"}
        assert (await client.post(url, json=same)).status_code == 201
        error(await client.post(url, json=same), 409, "conflict")  # asked already
        rate_limited(await client.post(url, json=same))  # the same e-mail, a third time
        for i in range(2):
            r = await client.post(url, json={"name": "R", "email": f"r{i}@example.org"})
            assert r.status_code == 201, r.text
        rate_limited(await client.post(url, json={"name": "R", "email": "r9@example.org"}))


async def test_join_and_peek_per_address_and_per_token(tmp_path: Path) -> None:
    async with limited_app(tmp_path, join_per_ip=(6, 60.0), join_per_token=(3, 60.0)) as (
            _, client):
        auth = {"Authorization": f"Bearer {await organizer_token(client)}"}
        m = (await client.post("/api/meetings", headers=auth,
                               json=standard_meeting_body())).json()
        inv = (await client.post(f"/api/meetings/{m['id']}/invitations", headers=auth,
                                 json={"role": "observer", "max_uses": None})).json()
        for _ in range(3):
            assert (await client.post("/api/join/peek",
                                      json={"token": inv["token"]})).status_code == 200
        rate_limited(await client.post("/api/join", json={"token": inv["token"], "name": "X"}))
        for i in range(2):  # other (bad) tokens count against the address
            error(await client.post("/api/join/peek", json={"token": f"bad{i}"}), 401,
                  "unauthorized")
        rate_limited(await client.post("/api/join/peek", json={"token": "bad9"}))


async def test_signup_closed_when_bound_beyond_loopback(tmp_path: Path) -> None:
    body = {"email": "x@example.org", "name": "X", "password": PW}
    async with running_app(tmp_path / "a", host="0.0.0.0") as (_, client):
        err = error(await client.post("/api/auth/signup", json=body), 403, "forbidden")
        assert err["details"]["reason"] == "signup_closed"
    async with running_app(tmp_path / "b", host="0.0.0.0", signup="open") as (_, client):
        assert (await client.post("/api/auth/signup", json=body)).status_code == 201
    async with running_app(tmp_path / "c", signup="closed") as (_, client):
        error(await client.post("/api/auth/signup", json=body), 403, "forbidden")


@pytest.mark.parametrize("password", ["        ", " " * 20, "short pw", "a" * 16, "\t" * 12])
async def test_password_policy(client: httpx.AsyncClient, password: str) -> None:
    err = error(await client.post("/api/auth/signup", json={
        "email": "weak@example.org", "name": "Weak", "password": password}), 422, "invalid_input")
    assert err["details"]["fields"][0]["field"] == "password"
