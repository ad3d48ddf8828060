"""A delegation's country on invitations (ISO 3166-1 alpha-2, optional): given one by one or
by the bulk CSV's `country` column, upper-cased, refused with a 422 naming the field when it is
not a country code, and listed with the invitations."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.api.conftest import Org, error
from tests.support.factory import make_meeting

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_country_given_one_by_one_and_in_bulk(app: FastAPI, org: Org) -> None:
    fx = await make_meeting(app, delegates=1, interpreters={}, observer=False)
    org.headers["Authorization"] = f"Bearer {fx.organizer_token}"
    base = f"/api/meetings/{fx.meeting_id}/invitations"
    r = await org.post(base, json={"role": "delegate", "delegation": "Kenya", "country": "ke"})
    assert r.status_code == 201, r.text
    assert r.json()["country"] == "KE"
    r = await org.post(base, json={"role": "delegate", "country": "  "})  # blank: none
    assert r.status_code == 201 and r.json()["country"] is None
    for bad in ("XX", "FRA", "1"):
        e = error(await org.post(base, json={"role": "delegate", "country": bad}), 422,
                  "invalid_input")
        assert "country" in str(e), e
    r = await org.post(f"{base}/bulk", json={
        "role": "delegate", "csv": "name,delegation,country\nAmina,Kenya,KE\nLuc,France,fr\n"
                                   "Ana,Peru,\n"})
    assert r.status_code == 201, r.text
    assert [i["country"] for i in r.json()["created"]] == ["KE", "FR", None]
    e = error(await org.post(f"{base}/bulk", json={
        "role": "delegate", "csv": "name,country\nA,FR\nB,ZZ\n"}), 422, "invalid_input")
    assert e["details"]["line"] == 3
    listed = (await org.get(base)).json()
    assert sorted(i["country"] for i in listed if i["country"]) == ["FR", "KE", "KE"]
