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

import json
import logging
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

import jwt
from fastapi import APIRouter, FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from mirp.api.deps import (
    AppSettings,
    CurrentOrganizer,
    DbSession,
    get_app_settings,
    get_db,
    get_webcast_modes,
    started_db,
)
from mirp.config import Settings
from mirp.errors import Forbidden, InvalidInput, MirpError, NotFound, Unauthorized, Unavailable
from mirp.httpguard import SECURITY_HEADERS
from mirp.metrics import tally_of
from mirp.store import repo
from mirp.store.db import RETRY_AFTER_S
from mirp.tokens import issue_webcast, verify_webcast
from mirp.webcast.files import FileCache, check_meeting_id, webcast_file
from mirp.webcast.service import webcast_dir

log = logging.getLogger(__name__)
PREFIX = "/webcast/"
TEMPLATE = "/webcast/{meeting_id}/{file}"  # how /metrics counts these requests
router = APIRouter()
organizer = APIRouter()  # under /api
COOKIE = "mirp_webcast"
TYPES = {"playlist": "application/vnd.apple.mpegurl", "init": "audio/mp4",
         "segment": "audio/mp4", "subtitles": "text/vtt; charset=utf-8"}
IMMUTABLE = "max-age=31536000, immutable"  # a segment's name is never reused
CACHE = {"playlist": "no-cache", "init": "max-age=60", "segment": IMMUTABLE,
         "subtitles": IMMUTABLE}
TOKEN_TTL_S = 24 * 3600.0
TOKENS_KEPT = 10_000  # verified viewer tokens remembered (each is checked once, not per request)
Headers = list[tuple[bytes, bytes]]


async def _mode(request: Request, meeting_id: str) -> str:
    """The meeting's `webcast` option, from WebcastModes (the database read only when its entry
    is older than its TTL, or was forgotten by an options change: api/meetings.py)."""
    modes = get_webcast_modes(request)
    now = time.monotonic()
    cached = modes.modes.get(meeting_id)
    if cached is None or cached[0] < now:
        try:
            async with get_db(started_db(request)).session() as session:
                mode: str | None = (await repo.load_meeting(session, meeting_id)).webcast
        except NotFound:
            mode = None
        if len(modes.modes) > 10_000:
            modes.modes.clear()
        cached = modes.modes[meeting_id] = (now + modes.ttl_s, mode)
    if cached[1] is None or cached[1] == "off":
        raise NotFound("no webcast for this meeting")
    return cached[1]


def _headers(kind: str, mode: str) -> Headers:
    """The headers every answer of this kind and mode carries (the security headers too: this
    path is in front of the middleware that adds them)."""
    cache = CACHE[kind] if mode == "public" else f"private, {CACHE[kind]}"
    out = [(b"content-type", TYPES[kind].encode()), (b"cache-control", cache.encode())]
    if mode == "public":  # a player on another site may embed a public webcast
        out.append((b"access-control-allow-origin", b"*"))
    return out + SECURITY_HEADERS


HEADERS = {(kind, mode): _headers(kind, mode) for kind in TYPES for mode in ("public", "token")}


@dataclass
class Tokens:
    """Viewer tokens already verified: token -> (meeting, expiry). A token's signature is
    checked once, then a dict lookup per request until it expires."""

    known: dict[str, tuple[str, float]] = field(default_factory=dict)

    def meeting(self, secret: str, token: str) -> str:
        now = time.time()
        found = self.known.get(token)
        if found is not None and found[1] > now:
            return found[0]
        meeting_id = verify_webcast(secret, token)  # Unauthorized when bad or expired
        expires = float(jwt.decode(token, options={"verify_signature": False})["exp"])
        if len(self.known) >= TOKENS_KEPT:
            self.known.clear()
        self.known[token] = (meeting_id, expires)
        return meeting_id


def _check_token(given: str | None, secret: str, meeting_id: str, tokens: Tokens) -> None:
    if not given:
        raise Unauthorized("this webcast needs a token", {"reason": "token_required"})
    if tokens.meeting(secret, given) != meeting_id:
        raise Forbidden("this token is for another meeting's webcast")


class WebcastFront:
    """`GET`/`HEAD /webcast/...`, answered before anything else of the app (WebcastApp): this
    is what every viewer polls, twice a second, and the stack (route matching over the whole
    API, the middlewares' wrappers) cost most of each request (bench/webcast.py,
    docs/webcast.md "Measured"). It does itself what those layers would do for it: the
    security headers, the NUL check, the JSON errors of mirp/errors.py, the /metrics count.
    The files come from a FileCache (one `stat` per request), the meeting's mode from
    WebcastModes (a database read every few seconds at most), a token's signature is checked
    once."""

    def __init__(self) -> None:
        self.files = FileCache()
        self.tokens = Tokens()
        self._root: tuple[Settings, str] | None = None  # the settings' webcast directory

    def root(self, settings: Settings) -> str:
        if self._root is None or self._root[0] is not settings:
            self._root = (settings, str(webcast_dir(settings.resolved_media_dir())))
        return self._root[1]

    async def answer(self, scope: Scope, send: Send) -> None:
        try:
            status, headers, body = await self.serve(scope)
        except MirpError as exc:
            status, headers, body = _error(exc)
        except Exception:  # as the app's last handler (app.py): logged, a JSON 500
            log.exception("webcast: unhandled error")
            status, headers, body = _error(MirpError("internal server error"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body",
                    "body": body if scope["method"] == "GET" else b""})
        tally_of(scope["app"].state).http[(scope["method"], TEMPLATE, status)] += 1

    async def serve(self, scope: Scope) -> tuple[int, Headers, bytes]:
        path: str = scope["path"]
        query: bytes = scope["query_string"]
        if "\x00" in path or b"%00" in query or b"\x00" in query:  # as httpguard.NoNulInUrl
            raise InvalidInput("NUL characters are not allowed in the URL")
        token = None
        if query:
            token = dict(parse_qsl(query.decode("latin-1"))).get("token")
            if token is not None and len(token) > 4096:
                raise Unauthorized("malformed webcast token")
        meeting_id, _, rest = path[len(PREFIX):].partition("/")
        check_meeting_id(meeting_id)
        request = Request(scope)
        settings = get_app_settings(request)
        file, kind = webcast_file(self.root(settings), meeting_id, rest)
        mode = await _mode(request, meeting_id)
        wanted = auth = cookie = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                wanted = value
            elif name == b"authorization":
                auth = value.decode("latin-1")
            elif name == b"cookie":
                cookie = value.decode("latin-1")
        extra: Headers = []
        if mode == "token":
            given = token
            if not given and auth and auth.lower().startswith("bearer "):
                given = auth[7:].strip()
            if not given and cookie:
                given = cookie_parser(cookie).get(COOKIE)
            _check_token(given, settings.resolved_secret_key(), meeting_id, self.tokens)
            if token:  # a player that cannot add headers follows the playlists with this
                extra.append((b"set-cookie", _cookie(token, meeting_id,
                                                     scope.get("scheme") == "https")))
        found = self.files.get(file)
        headers = [*HEADERS[kind, mode], (b"etag", found.etag), *extra]
        if wanted is not None and found.etag in wanted:
            return 304, headers, b""
        return 200, [*headers, (b"content-length", b"%d" % len(found.body))], found.body


def _cookie(token: str, meeting_id: str, secure: bool) -> bytes:
    cookie: SimpleCookie = SimpleCookie()
    cookie[COOKIE] = token
    morsel = cookie[COOKIE]
    morsel["max-age"] = int(TOKEN_TTL_S)
    morsel["path"] = f"/webcast/{meeting_id}/"
    morsel["httponly"] = True
    morsel["samesite"] = "lax"
    if secure:
        morsel["secure"] = True
    return cookie.output(header="").strip().encode("latin-1")


def _error(exc: MirpError) -> tuple[int, Headers, bytes]:
    """The answer the app's handler would give (app.py), with the security headers."""
    body = json.dumps({"error": {"code": exc.code, "message": exc.message,
                                 "details": exc.details or {}}}).encode()
    headers: Headers = [(b"content-type", b"application/json"),
                        (b"content-length", b"%d" % len(body)), *SECURITY_HEADERS]
    if isinstance(exc, Unavailable):
        retry: Any = exc.details.get("retry_after_s", RETRY_AFTER_S)
        headers.append((b"retry-after", str(retry).encode()))
    return exc.http_status, headers, body


class WebcastApp(FastAPI):
    """The app (app.py makes this, not a plain FastAPI): a viewer's `GET`/`HEAD /webcast/...`
    goes to WebcastFront before FastAPI's own layers (its telemetry check, the error and user
    middlewares, the router); every other request goes the usual way."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.webcast_front = WebcastFront()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and \
                str(scope["path"]).startswith(PREFIX):
            scope["app"] = self
            await self.webcast_front.answer(scope, send)
            return
        await super().__call__(scope, receive, send)


class WebcastMethods:
    """The `/webcast` mount: what WebcastApp lets through (any method but GET and HEAD)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(405)


router.routes.append(Mount("/webcast", app=WebcastMethods()))


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
