"""What WHIP ingest (api/whip.py) and WHEP egress (api/whep.py) share: a peer connection made by
one HTTP request, alive as a *resource* until DELETE.

Why a resource is a Session: a WHIP encoder or a WHEP player has no WebSocket, yet the Room
must see it as a participant like any other (it joins, its microphone is mixed or it listens,
it is dropped when removed or when the meeting closes). So each resource holds an `HttpSession`
(the rooms.session.Session protocol, like signaling's) that discards the room's messages (an
encoder reads none) and ends the resource when the Room closes it: replaced by a new POST of
the same participant, removed, meeting closed, or its peer lost (`peer_closed`, acted on at
once: nobody will re-offer). The resource's lifetime is the Session's; DELETE ends both for
good.

Errors keep the project's shape (`{"error": {code, message, details}}`) and carry the CORS
headers, so a browser-based client can read them; an offer that is not one audio m-line with
Opus is 400 here (the RFC's "bad request"), not the 422 of the WebSocket's `invalid_sdp`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from mirp import tokens
from mirp.config import Settings
from mirp.errors import (
    Forbidden,
    InvalidSdp,
    MirpError,
    NotFound,
    NotSupported,
    PreconditionFailed,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)
from mirp.ids import new_id
from mirp.rooms.door import JoinedRoom, RoomDoor
from mirp.store import venue
from mirp.store.db import Database, SqlSession
from mirp.store.schemas import JoinOut

log = logging.getLogger("mirp.api.httpmedia")

SDP = "application/sdp"
SDPFRAG = "application/trickle-ice-sdpfrag"
CORS = {
    "Access-Control-Allow-Origin": "*",  # bearer tokens, never cookies: any origin may call
    "Access-Control-Expose-Headers": "Location, Link, ETag, Accept-Patch, Accept-Post",
}


def preflight(methods: str) -> Response:
    """The answer to OPTIONS (a CORS preflight, or a client asking what the endpoint takes)."""
    return Response(status_code=204, headers={
        **CORS,
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
        "Access-Control-Max-Age": "86400",
        "Accept-Post": SDP,
        "Accept-Patch": SDPFRAG,
        "Allow": methods,
    })


def error_response(exc: MirpError) -> JSONResponse:
    status = 400 if isinstance(exc, InvalidSdp) else exc.http_status
    return JSONResponse({"error": {"code": exc.code, "message": exc.message,
                                   "details": exc.details}}, status_code=status, headers=CORS)


async def answering(work: Callable[[], Awaitable[Response]]) -> Response:
    """Run a handler; a typed error becomes its JSON answer, with the CORS headers."""
    try:
        return await work()
    except MirpError as exc:
        return error_response(exc)


def content_type(request: Request, wanted: str) -> None:
    got = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if got != wanted:
        raise UnsupportedMediaType(f"send the body as {wanted}",
                                   {"content_type": got or None, "expected": wanted})


def bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    return token.strip()


async def body_text(request: Request) -> str:
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSdp("the body is not UTF-8 text") from None


def looks_like_sdp(sdp: str) -> None:
    """A first look, before anyone joins: an SDP session with an audio m-line. The media plane
    checks the rest (one audio m-line with Opus, ICE and DTLS: media/sdp.py) and refuses with
    the same InvalidSdp."""
    lines = sdp.lstrip().splitlines()
    if not lines or lines[0].strip() != "v=0" or not any(ln.startswith("m=audio ") for ln in lines):
        raise InvalidSdp("the body is not an SDP offer with an audio m-line")


def ice_ufrag(sdp: str) -> str | None:
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1].strip()
    return None


def ice_links(settings: Settings) -> str | None:
    """The configured ICE servers as Link headers (RFC 9725: rel="ice-server")."""
    links = []
    for s in settings.ice_servers:
        d = s.model_dump(exclude_none=True)
        for url in d.get("urls", []):
            link = f'<{url}>; rel="ice-server"'
            if d.get("username"):
                link += f'; username="{d["username"]}"; credential="{d.get("credential", "")}"'
                link += '; credential-type="password"'
            links.append(link)
    return ", ".join(links) or None


Exchange = Callable[[SqlSession, Settings, str], Awaitable[JoinOut]]


async def participant_token(token: str, db: Database, settings: Settings,
                            exchange: Exchange = venue.room_participant) -> str:
    """The bearer as a participant token: an invitation's own token (what an encoder or a
    player is configured with: it outlives participant tokens) is exchanged by `exchange`."""
    try:
        tokens.verify_invitation(settings.resolved_secret_key(), token)
    except MirpError:
        return token  # a participant token, or nothing valid: authorize says which
    async with db.session() as session:
        return (await exchange(session, settings, token)).participant_token



# ------------------------------------------------------------------------------- resources

class HttpSession:
    """A resource's Session as the Room sees it: it reads nothing, and a close ends the
    resource (`on_close`)."""

    def __init__(self, on_close: Callable[[HttpSession], None]) -> None:
        self.id = new_id("s_")
        self.closed = False
        self.close_reason = ""
        self._on_close = on_close

    def send_json(self, text: str) -> None:
        return None  # room events: an encoder or a player reads none

    def send(self, message: dict[str, Any]) -> None:
        if message.get("type") == "peer_closed":  # nobody will offer again: the resource ends
            self.close(1001, f"media connection lost ({message.get('reason')})")

    def welcome(self, participant_id: str, room: dict[str, Any], seq: int,
                resumed: bool) -> None:
        return None

    def close(self, code: int, reason: str, error: MirpError | None = None,
              msg_id: int | str | None = None) -> None:
        if not self.closed:
            self.closed, self.close_reason = True, reason
            self._on_close(self)


@dataclass
class Resource:
    id: str
    kind: str  # "whip" | "whep"
    meeting_id: str
    participant_id: str
    session: HttpSession
    runtime: JoinedRoom | None = None
    invitation_id: str | None = None  # its token (WHIP: the encoder's) may act on it too
    ufrag: str | None = None  # the client's ICE username fragment (a new one: an ICE restart)
    channel: str | None = None  # WHEP: what it listens to

    @property
    def path(self) -> str:
        channel = f"/{self.channel}" if self.channel else ""
        return f"/{self.kind}/{self.meeting_id}{channel}/{self.id}"

    @property
    def etag(self) -> str:
        return f'"{self.id}.{self.ufrag or ""}"'


@dataclass
class Resources:
    """The app's WHIP and WHEP resources, by id (the id is the unguessable part of the URL)."""

    by_id: dict[str, Resource] = field(default_factory=dict)
    _leaving: set[asyncio.Task[None]] = field(default_factory=set)

    def open(self, kind: str, meeting_id: str, participant_id: str,
             invitation_id: str | None = None) -> Resource:
        rid = new_id("r_")
        r = Resource(rid, kind, meeting_id, participant_id,
                     HttpSession(lambda s: self._closed_by_room(rid)),
                     invitation_id=invitation_id)
        self.by_id[rid] = r
        return r

    def _closed_by_room(self, rid: str) -> None:
        """The Room closed the Session (replaced, removed, closed, peer lost): the resource is
        gone; the participant is disconnected (the grace period keeps its place)."""
        r = self.by_id.pop(rid, None)
        if r is None or r.runtime is None:
            return
        task = asyncio.get_running_loop().create_task(
            r.runtime.leave_session(r.participant_id, r.session))
        self._leaving.add(task)
        task.add_done_callback(self._leaving.discard)

    async def delete(self, r: Resource) -> None:
        """DELETE: the participant leaves for good."""
        self.by_id.pop(r.id, None)
        r.session.closed = True
        if r.runtime is not None:
            await r.runtime.leave_session(r.participant_id, r.session, for_good=True)

    def find(self, kind: str, meeting_id: str, rid: str, settings: Settings,
             token: str) -> Resource:
        """The resource the URL names, for the holder of `token` (the participant it belongs
        to, or the invitation it came through): NotFound for no such resource, Forbidden for
        someone else's."""
        secret = settings.resolved_secret_key()
        owner: tuple[str | None, str | None]
        try:
            owner = (tokens.verify_participant(secret, token).participant_id, None)
        except MirpError:
            try:
                owner = (None, tokens.verify_invitation(secret, token).invitation_id)
            except MirpError:
                raise Unauthorized("this token is not valid") from None
        r = self.by_id.get(rid)
        if r is None or r.kind != kind or r.meeting_id != meeting_id:
            raise NotFound(f"no such {kind.upper()} resource", {"resource": rid})
        if owner[0] != r.participant_id and (owner[1] is None or owner[1] != r.invitation_id):
            raise Forbidden(f"this {kind.upper()} resource is someone else's")
        return r


def resources_of(request: Request) -> Resources:
    """The app's Resources, made on first use (no wiring in app.py)."""
    found: Resources | None = getattr(request.app.state, "http_media", None)
    if found is None:
        found = request.app.state.http_media = Resources()
    return found


def door_of(request: Request) -> RoomDoor:
    door: RoomDoor | None = getattr(request.app.state, "rooms", None)
    if door is None:
        raise Unavailable("the server is starting")
    return door


# ------------------------------------------------------------------------------- the verbs

async def start(r: Resource, door: RoomDoor, grant: Any, sdp: str,
                then: Callable[[JoinedRoom], Awaitable[None]] | None = None) -> str:
    """Join the Room as `grant`'s participant through the resource's Session and make the peer:
    the answer SDP. `then` runs after the join, before the offer (WHEP: subscribe). On any
    failure the resource is forgotten and the participant leaves."""
    resources_gone = r.session.close  # a failure: the Room hears the Session ended
    try:
        r.runtime = await door.join(grant, r.session)
        if then is not None:
            await then(r.runtime)
        answer = await r.runtime.offer(r.participant_id, r.session, sdp)
    except BaseException:
        if r.runtime is not None:
            with contextlib.suppress(Exception):
                await r.runtime.leave_session(r.participant_id, r.session, for_good=True)
        r.runtime = None
        resources_gone(1000, "failed")
        raise
    r.ufrag = ice_ufrag(sdp)
    return answer


def created(r: Resource, answer: str, settings: Settings) -> Response:
    headers = {**CORS, "Location": r.path, "ETag": r.etag, "Accept-Patch": SDPFRAG}
    links = ice_links(settings)
    if links:
        headers["Link"] = links
    return Response(answer, status_code=201, media_type=SDP, headers=headers)


def parse_sdpfrag(text: str) -> tuple[str | None, list[Mapping[str, object] | None]]:
    """(ufrag, candidates) of a trickle-ice-sdpfrag body (RFC 8840): each candidate as the
    browser's RTCIceCandidate.toJSON() (None: end of candidates)."""
    ufrag: str | None = None
    mid: str | None = None
    index = -1
    out: list[Mapping[str, object] | None] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            index += 1
            mid = None
        elif line.startswith("a=mid:"):
            mid = line[6:].strip()
        elif line.startswith("a=ice-ufrag:"):
            ufrag = line.split(":", 1)[1].strip()
        elif line.startswith("a=candidate:"):
            out.append({"candidate": line[2:], "sdpMid": mid,
                        "sdpMLineIndex": max(index, 0)})
        elif line == "a=end-of-candidates":
            out.append(None)
    return ufrag, out


async def trickle(request: Request, r: Resource) -> Response:
    """PATCH: the client's trickled candidates. A new ICE ufrag is an ICE restart, which this
    server does not do (501: the client makes a new resource)."""
    content_type(request, SDPFRAG)
    match = request.headers.get("if-match")
    if match is not None and match.strip() not in ("*", r.etag):
        raise PreconditionFailed("this resource's ICE session has changed",
                                 {"etag": r.etag})
    ufrag, candidates = parse_sdpfrag(await body_text(request))
    if ufrag is not None and r.ufrag is not None and ufrag != r.ufrag:
        raise NotSupported("ICE restarts are not supported: DELETE and POST a new offer")
    if r.runtime is None:
        raise NotFound("no such resource", {"resource": r.id})
    for candidate in candidates:  # a malformed one: InvalidInput (422)
        await r.runtime.candidate(r.participant_id, candidate)
    return Response(status_code=204, headers=CORS)
