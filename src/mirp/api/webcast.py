"""`/webcast/<meeting>/...`: the HLS files of a meeting's webcast, and the organizer's viewer
token (`POST /api/meetings/{id}/webcast/token`).

Served as plain files with caching headers a reverse proxy or CDN can honour (docs/webcast.md):
playlists `no-cache` (they change every segment), segments `immutable` (a name is never
reused), the init segment a minute. Access follows the meeting's `webcast` option: `off` and
unknown meetings are 404; `token` wants a webcast token (Authorization: Bearer, `?token=`, or
the cookie the first `?token=` sets for this meeting's path, so a player that cannot set
headers, such as Safari's own, can follow the playlists), else 401, or 403 for a token of
another meeting; its answers are `private` (no shared cache may keep them). A name the worker
never writes is refused (422 `invalid_input`) before any path is built.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from mirp.api.deps import (
    AppSettings,
    CurrentOrganizer,
    DbSession,
    WebcastModes,
    get_app_settings,
    get_db,
    get_webcast_modes,
    started_db,
)
from mirp.errors import Forbidden, NotFound, Unauthorized
from mirp.store import repo
from mirp.store.db import Database
from mirp.tokens import issue_webcast, verify_webcast
from mirp.webcast.files import check_meeting_id, read_small, webcast_file
from mirp.webcast.service import webcast_dir

PREFIX = "/webcast/"
router = APIRouter()
organizer = APIRouter()  # under /api
COOKIE = "mirp_webcast"
TYPES = {"playlist": "application/vnd.apple.mpegurl", "init": "audio/mp4",
         "segment": "audio/mp4"}
CACHE = {"playlist": "no-cache", "init": "max-age=60", "segment": "max-age=31536000, immutable"}
TOKEN_TTL_S = 24 * 3600.0


async def _mode(db: Database, modes: WebcastModes, meeting_id: str) -> str:
    now = time.monotonic()
    cached = modes.modes.get(meeting_id)
    if cached is None or cached[0] < now:
        try:
            async with db.session() as session:
                mode: str | None = (await repo.load_meeting(session, meeting_id)).webcast
        except NotFound:
            mode = None
        if len(modes.modes) > 10_000:
            modes.modes.clear()
        cached = modes.modes[meeting_id] = (now + modes.ttl_s, mode)
    if cached[1] is None or cached[1] == "off":
        raise NotFound("no webcast for this meeting")
    return cached[1]


def _check_token(request: Request, token: str | None, secret: str, meeting_id: str) -> bool:
    """True when the token came in the query (the answer sets the cookie)."""
    header = request.headers.get("authorization", "")
    given = token
    if not given and header.lower().startswith("bearer "):
        given = header[7:].strip()
    if not given:
        given = request.cookies.get(COOKIE)
    if not given:
        raise Unauthorized("this webcast needs a token", {"reason": "token_required"})
    if verify_webcast(secret, given) != meeting_id:
        raise Forbidden("this token is for another meeting's webcast")
    return token is not None


class WebcastFiles:
    """The `/webcast` mount: a plain ASGI app, not a FastAPI route, because this is what every
    viewer polls: route matching and dependency resolution cost more than the rest of the
    request (bench/webcast.py). Errors are raised as MirpErrors, answered by the app's handlers
    like any route's."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method not in ("GET", "HEAD"):
            raise HTTPException(405)
        rest = str(scope["path"])[len(PREFIX):] if str(scope["path"]).startswith(PREFIX) else ""
        meeting_id, _, path = rest.partition("/")
        response = await serve(request, meeting_id, path)
        await response(scope, receive, send)


async def serve(request: Request, meeting_id: str, path: str) -> Response:
    settings = get_app_settings(request)
    modes = get_webcast_modes(request)
    db = get_db(started_db(request))
    token = request.query_params.get("token")
    if token is not None and len(token) > 4096:
        raise Unauthorized("malformed webcast token")
    check_meeting_id(meeting_id)
    file, kind = webcast_file(webcast_dir(settings.resolved_media_dir()), meeting_id, path)
    mode = await _mode(db, modes, meeting_id)
    set_cookie = False
    if mode == "token":
        set_cookie = _check_token(request, token, settings.resolved_secret_key(), meeting_id)
    body = read_small(file)
    cache = CACHE[kind]
    headers = {"Cache-Control": cache if mode == "public" else f"private, {cache}"}
    if mode == "public":  # a player on another site may embed a public webcast
        headers["Access-Control-Allow-Origin"] = "*"
    response = Response(body, media_type=TYPES[kind], headers=headers)
    if set_cookie and token:
        response.set_cookie(COOKIE, token, max_age=int(TOKEN_TTL_S), httponly=True,
                            samesite="lax", path=f"/webcast/{meeting_id}/",
                            secure=request.url.scheme == "https")
    return response


router.routes.append(Mount("/webcast", app=WebcastFiles()))


@organizer.post("/meetings/{meeting_id}/webcast/token")
async def webcast_token(meeting_id: str, session: DbSession, organizer: CurrentOrganizer,
                        settings: AppSettings) -> dict[str, object]:
    """A viewer token for this meeting's webcast (valid a day): hand viewers the `url`."""
    meeting = await repo.meeting_for(session, organizer, meeting_id)
    token = issue_webcast(settings.resolved_secret_key(), meeting.id, TOKEN_TTL_S)
    base = (settings.public_base_url or "").rstrip("/")
    return {"token": token, "expires_in_s": int(TOKEN_TTL_S),
            "url": f"{base}/webcast.html#m={meeting.id}&t={token}",
            "playlist": f"{base}/webcast/{meeting.id}/master.m3u8?token={token}"}
