"""create_app(settings) and the lifespan: the only place that wires the parts together."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from mirp.api import build_router as build_api_router
from mirp.api.deps import LiveRooms
from mirp.config import Settings
from mirp.errors import MirpError, RateLimited, Unavailable
from mirp.httpguard import BodyCap, NoNulInUrl, SecurityHeaders
from mirp.journal import Journal
from mirp.media.local import LocalPlane
from mirp.media.plane import MediaPlane, PlaneConfig
from mirp.media.process import ProcessPlane
from mirp.metrics import HttpCount
from mirp.rooms.registry import RoomRegistry
from mirp.signaling.routes import build_router as build_signaling_router
from mirp.store import work
from mirp.store.admission import Admission
from mirp.store.db import RETRY_AFTER_S, Database, DbBounds
from mirp.store.mail import Outbox

log = logging.getLogger("mirp")


def _error(status: int, code: str, message: str, details: object = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or {}}}, status_code=status
    )


def media_plane(settings: Settings) -> MediaPlane:
    """The media engine and peers: in a child process (`media_process`), else on this loop."""
    config = PlaneConfig(
        ice_servers=tuple(s.model_dump() for s in settings.ice_servers),
        loopback_only=settings.ice_loopback_only,
        join_batch=settings.limits.join_batch,
        peer_timeout_s=settings.limits.peer_timeout_s,
        handshake_stall_s=settings.limits.handshake_stall_s,
        consent_interval_s=settings.limits.consent_interval_s,
        consent_lapse_s=settings.limits.consent_lapse_s,
        video_bitrate_cap=settings.limits.video_bitrate_cap,
    )
    return ProcessPlane(config) if settings.media_process else LocalPlane(config)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url(), DbBounds.of(settings))
        await db.start()  # applies migrations
        admission = Admission(db, settings)
        media = media_plane(settings)
        await media.start()
        journal = Journal(settings.data_dir / "journal.bin")  # docs/operations.md
        replay = journal.open()
        if replay.records or replay.snapshots:
            log.info("journal: %d records to write, %d rooms to restore",
                     len(replay.records), len(replay.snapshots))
        rooms = RoomRegistry(settings=settings, media=media, store=admission, journal=journal)
        # the registry as REST sees it (api/deps.py LiveRooms) and Sessions (rooms/door.py
        # RoomDoor): mypy checks that it fits both
        live: LiveRooms = rooms
        app.state.settings = settings
        app.state.db = db
        app.state.admission = admission
        app.state.media = media
        app.state.rooms = live
        outbox = Outbox(db, settings) if settings.mail_on() else None  # invitation e-mail
        app.state.outbox = outbox
        if outbox is not None:
            outbox.start()
        log.info("mirp ready at %s", settings.resolved_base_url())
        try:
            async with work.pool(settings.cpu_workers):  # CPU work off the loop (store/work.py)
                yield
        finally:
            if outbox is not None:
                await outbox.close()
            await rooms.close()
            await media.close()
            await db.close()

    # No /docs or /redoc: FastAPI's pages load Swagger UI from a CDN and run an inline script,
    # which the CSP refuses. The OpenAPI document stays at /openapi.json; docs/api.md says more.
    app = FastAPI(title="MIRP", version="0.1.0", lifespan=lifespan, docs_url=None,
                  redoc_url=None)
    app.state.settings = settings
    # outermost last: security headers go on every answer, the guards' refusals included
    app.add_middleware(BodyCap, max_bytes=settings.limits.max_body_bytes,
                       larger={"/invitations/bulk": settings.limits.max_bulk_body_bytes},
                       timeout_s=settings.limits.body_timeout_s)
    app.add_middleware(NoNulInUrl)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HttpCount)  # every request by route template and status (/metrics)

    @app.exception_handler(MirpError)
    async def _mirp_error(_: Request, exc: MirpError) -> JSONResponse:
        response = _error(exc.http_status, exc.code, exc.message, exc.details)
        if isinstance(exc, Unavailable):  # worth retrying, and when
            response.headers["Retry-After"] = str(exc.details.get("retry_after_s",
                                                                  RETRY_AFTER_S))
        return response

    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        response = _error(exc.http_status, exc.code, exc.message, exc.details)
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        first = fields[0] if fields else {"field": "", "message": "invalid request"}
        return _error(422, "invalid_input", f"{first['field']}: {first['message']}",
                      {"field": first["field"], "fields": fields})  # docs/api.md, Errors

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                 408: "timeout", 409: "conflict", 413: "too_large"}
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _error(500, "internal", "internal server error")

    app.include_router(build_api_router())
    app.include_router(build_signaling_router())
    if settings.web_dir.is_dir():
        app.mount("/", StaticFiles(directory=settings.web_dir, html=True), name="web")
    else:
        log.warning("no browser client at %s (set MIRP_WEB_DIR)", settings.web_dir)
    return app
