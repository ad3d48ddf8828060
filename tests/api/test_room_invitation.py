"""The meeting room is invited like anyone (hybrid meetings, docs/venue.md): an organizer makes a
`room` invitation, its link joins as the room, and its own token is what an encoder is set up
with: exchanged for the same participant every time (store/venue.py)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from mirp.errors import Forbidden
from mirp.store import venue
from tests.api.conftest import Org
from tests.support.factory import standard_meeting_body

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_a_room_invitation_joins_as_the_room_and_its_token_is_one_participant(
        org: Org, app: FastAPI) -> None:
    meeting = (await org.post("/api/meetings", standard_meeting_body())).json()
    r = await org.post(f"/api/meetings/{meeting['id']}/invitations",
                       {"role": "room", "name": "Plenary hall", "max_uses": 1})
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["role"] == "room"
    settings = app.state.settings
    async with app.state.db.session() as session:
        first = await venue.room_participant(session, settings, inv["token"])
    async with app.state.db.session() as session:
        again = await venue.room_participant(session, settings, inv["token"])
    assert first.role == "room" and first.name == "Plenary hall"
    assert again.participant_id == first.participant_id  # one use, spent once
    delegate = (await org.post(f"/api/meetings/{meeting['id']}/invitations",
                               {"role": "delegate", "name": "D"})).json()
    async with app.state.db.session() as session:
        with pytest.raises(Forbidden):
            await venue.room_participant(session, settings, delegate["token"])
