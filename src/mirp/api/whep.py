"""WHEP egress (the IETF WHEP draft): any channel pulled by a standard WHEP player, for a
room's interpretation receivers, a broadcaster or a second site (docs/venue.md, docs/api.md).

`POST /whep/{meeting_id}/{channel}` (`floor`, a meeting language, or `floor-minus-room`: the
floor without the meeting room) with a recvonly SDP offer and `Authorization: Bearer <token>`
(an observer invitation's own token: each POST is a new listener of it; or an observer's
participant token) answers `201` + the answer + `Location`; `PATCH` trickles ICE, `DELETE`
ends, `OPTIONS` answers CORS. The player joins the Room as that observer, subscribed to the
channel, and hears the Feed every browser listener of the channel hears: the same packet,
encoded once (media/fanout.py), no encoder of its own.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from mirp.api.deps import AppSettings, AppThrottle, Db
from mirp.api.httpmedia import (
    SDP,
    answering,
    bearer,
    body_text,
    content_type,
    created,
    door_of,
    looks_like_sdp,
    participant_token,
    preflight,
    resources_of,
    start,
    trickle,
)
from mirp.api.throttle import client_ip
from mirp.errors import Forbidden, InvalidInput, NotFound
from mirp.rooms import commands as c
from mirp.rooms.door import JoinedRoom
from mirp.rooms.model import Role
from mirp.store import venue

router = APIRouter(prefix="/whep", tags=["whep"])

LISTEN_ONLY = frozenset({Role.OBSERVER})


def channel_command(channel: str) -> c.Subscribe:
    try:
        return c.Subscribe(channel)
    except ValidationError:
        raise NotFound("no such channel", {"channel": channel[:40]}) from None


@router.options("/{meeting_id}/{channel}", include_in_schema=False)
async def endpoint_options(meeting_id: str, channel: str) -> Response:
    return preflight("POST, OPTIONS")


@router.post("/{meeting_id}/{channel}", status_code=201, response_class=Response,
             responses={201: {"content": {SDP: {}}}})
async def play(meeting_id: str, channel: str, request: Request, settings: AppSettings,
               throttle: AppThrottle, db: Db) -> Response:
    """Listen to a channel: the SDP answer, `Location` of the new resource."""

    async def work() -> Response:
        throttle.hit("join", client_ip(request), throttle.rates.join_per_ip)
        content_type(request, SDP)
        token = await participant_token(bearer(request), db, settings,
                                        venue.listener_participant)
        subscribe = channel_command(channel)
        door = door_of(request)
        grant = await door.authorize(token, meeting_id)
        if grant.role not in LISTEN_ONLY:
            raise Forbidden("WHEP takes the token of a listen-only (observer) invitation",
                            {"role": str(grant.role), "allowed": sorted(LISTEN_ONLY)})
        sdp = await body_text(request)
        looks_like_sdp(sdp)
        r = resources_of(request).open("whep", meeting_id, grant.participant_id,
                                       grant.invitation_id)
        r.channel = channel

        async def listen(room: JoinedRoom) -> None:
            try:
                await room.command(grant.participant_id, r.session, subscribe)
            except InvalidInput as exc:  # not a channel of this meeting
                raise NotFound("no such channel in this meeting", exc.details) from None

        answer = await start(r, door, grant, sdp, then=listen)
        return created(r, answer, settings)

    return await answering(work)


@router.options("/{meeting_id}/{channel}/{resource_id}", include_in_schema=False)
async def resource_options(meeting_id: str, channel: str, resource_id: str) -> Response:
    return preflight("PATCH, DELETE, OPTIONS")


@router.patch("/{meeting_id}/{channel}/{resource_id}", status_code=204, response_class=Response)
async def patch(meeting_id: str, channel: str, resource_id: str, request: Request,
                settings: AppSettings) -> Response:
    """Trickle ICE: the player's candidates (application/trickle-ice-sdpfrag)."""

    async def work() -> Response:
        r = resources_of(request).find("whep", meeting_id, resource_id, settings,
                                       bearer(request))
        return await trickle(request, r)

    return await answering(work)


@router.delete("/{meeting_id}/{channel}/{resource_id}", status_code=200, response_class=Response)
async def delete(meeting_id: str, channel: str, resource_id: str, request: Request,
                 settings: AppSettings) -> Response:
    """Stop listening: the observer leaves the meeting."""

    async def work() -> Response:
        resources = resources_of(request)
        r = resources.find("whep", meeting_id, resource_id, settings, bearer(request))
        await resources.delete(r)
        return Response(status_code=200, headers={"Access-Control-Allow-Origin": "*"})

    return await answering(work)
