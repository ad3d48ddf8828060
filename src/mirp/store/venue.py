"""A venue's encoder (WHIP) and players (WHEP) joining with an invitation's own token.

Why: an encoder is configured once with a bearer token and POSTs again after every restart.
The invitation's token lives as long as the invitation; a participant token expires. So the
invitation token is exchanged here for the participant of that invitation, the same one every
time (the newest not removed), made on the first use only: restarts of the encoder are one
participant in the report, and a named invitation's single use is not spent twice. A WHEP
player, by contrast, is a new listener at each POST (`listener_participant`).
"""

from __future__ import annotations

from sqlalchemy import select

from mirp.config import Settings
from mirp.errors import Forbidden
from mirp.store import invites
from mirp.store import tables as t
from mirp.store.db import SqlSession
from mirp.store.schemas import JoinIn, JoinOut

ROOM = "room"
LISTEN_ONLY = "observer"


async def room_participant(session: SqlSession, settings: Settings, token: str) -> JoinOut:
    """The participant (and a fresh participant token) of this room invitation. Raises what
    joining raises (expired, revoked, closed...) and Forbidden for another role's invitation."""
    inv, meeting = await invites._usable(session, settings, token)
    if inv.role != ROOM:
        raise Forbidden("WHIP ingest takes the token of a meeting room's invitation",
                        {"role": inv.role, "allowed": [ROOM]})
    found = (await session.execute(
        select(t.Participant).where(t.Participant.invitation_id == inv.id,
                                    t.Participant.removed_at.is_(None))
        .order_by(t.Participant.joined_at.desc()).limit(1))).scalar_one_or_none()
    if found is not None:
        return await invites._joined(session, settings, meeting, found)
    return await invites.join(session, settings, JoinIn(token=token, name=inv.name or "Room",
                                                        participant_token=None))


async def listener_participant(session: SqlSession, settings: Settings, token: str) -> JoinOut:
    """A new participant through this observer invitation (WHEP): every player is a listener
    of its own (one invitation without a use limit serves every receiver of a venue; two players
    on one participant would replace each other). Raises what joining raises (used up...) and
    Forbidden for another role's invitation."""
    inv, _ = await invites._usable(session, settings, token)
    if inv.role != LISTEN_ONLY:
        raise Forbidden("WHEP takes the token of a listen-only (observer) invitation",
                        {"role": inv.role, "allowed": [LISTEN_ONLY]})
    return await invites.join(session, settings, JoinIn(token=token, name=inv.name or "Player",
                                                        participant_token=None), each_new=True)
