"""WHIP ingest (RFC 9725): a venue's encoder or production software publishes the meeting
room's sound (docs/venue.md, docs/api.md).

`POST /whip/{meeting_id}` with the SDP offer (`Content-Type: application/sdp`) and
`Authorization: Bearer <token>` (the room invitation's own token, what an encoder is set up
with, or the participant token of its room participant) answers `201 Created`, the
SDP answer, `Location` (the resource), `ETag` and, when ICE servers are configured, `Link`
headers (rel="ice-server"). `PATCH` on the resource trickles ICE candidates
(application/trickle-ice-sdpfrag; ICE restarts: 501), `DELETE` ends it, `OPTIONS` answers the
CORS preflight. The peer is made by the media plane like a browser's (an audio m-line with
Opus); the encoder joins the Room as its `room` participant, whose audio is the room feed
(rooms/mixing.py). The resource's lifetime is the Session's (api/httpmedia.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

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
from mirp.errors import Forbidden, InvalidSdp
from mirp.rooms.model import Role

router = APIRouter(prefix="/whip", tags=["whip"])


def sends_audio(sdp: str) -> None:
    """An ingest offer must send: a recvonly or inactive one has nothing to publish."""
    looks_like_sdp(sdp)
    for line in sdp.splitlines():
        if line.strip() in ("a=recvonly", "a=inactive"):
            raise InvalidSdp("a WHIP offer sends audio (sendonly or sendrecv)",
                             {"direction": line.strip()[2:]})


@router.options("/{meeting_id}", include_in_schema=False)
async def endpoint_options(meeting_id: str) -> Response:
    return preflight("POST, OPTIONS")


@router.post("/{meeting_id}", status_code=201, response_class=Response,
             responses={201: {"content": {SDP: {}}}})
async def publish(meeting_id: str, request: Request, settings: AppSettings,
                  throttle: AppThrottle, db: Db) -> Response:
    """Publish the meeting room's audio: the SDP answer, `Location` of the new resource."""

    async def work() -> Response:
        throttle.hit("join", client_ip(request), throttle.rates.join_per_ip)
        content_type(request, SDP)
        token = await participant_token(bearer(request), db, settings)
        door = door_of(request)
        grant = await door.authorize(token, meeting_id)
        if grant.role is not Role.ROOM:
            raise Forbidden("WHIP ingest takes the token of a meeting room's invitation",
                            {"role": str(grant.role), "allowed": [str(Role.ROOM)]})
        sdp = await body_text(request)
        sends_audio(sdp)
        r = resources_of(request).open("whip", meeting_id, grant.participant_id,
                                       grant.invitation_id)
        answer = await start(r, door, grant, sdp)
        return created(r, answer, settings)

    return await answering(work)


@router.options("/{meeting_id}/{resource_id}", include_in_schema=False)
async def resource_options(meeting_id: str, resource_id: str) -> Response:
    return preflight("PATCH, DELETE, OPTIONS")


@router.patch("/{meeting_id}/{resource_id}", status_code=204, response_class=Response)
async def patch(meeting_id: str, resource_id: str, request: Request,
                settings: AppSettings) -> Response:
    """Trickle ICE: the encoder's candidates (application/trickle-ice-sdpfrag)."""

    async def work() -> Response:
        r = resources_of(request).find("whip", meeting_id, resource_id, settings,
                                       bearer(request))
        return await trickle(request, r)

    return await answering(work)


@router.delete("/{meeting_id}/{resource_id}", status_code=200, response_class=Response)
async def delete(meeting_id: str, resource_id: str, request: Request,
                 settings: AppSettings) -> Response:
    """End the ingest: the room participant leaves the meeting."""

    async def work() -> Response:
        resources = resources_of(request)
        r = resources.find("whip", meeting_id, resource_id, settings, bearer(request))
        await resources.delete(r)
        return Response(status_code=200, headers={"Access-Control-Allow-Origin": "*"})

    return await answering(work)
