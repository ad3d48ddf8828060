"""create_app(settings) and the lifespan: the only place that wires the parts together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from mirp.api import build_router as build_api_router
from mirp.config import Settings
from mirp.errors import MirpError, Unavailable
from mirp.media.engine import MediaEngine
from mirp.media.peer import PeerFactory
from mirp.rooms.registry import RoomRegistry
from mirp.signaling.routes import build_router as build_signaling_router
from mirp.store import work
from mirp.store.admission import Admission
from mirp.store.db import RETRY_AFTER_S, Database, DbBounds

log = logging.getLogger("mirp")


def _error(status: int, code: str, message: str, details: object = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or {}}}, status_code=status
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url(), DbBounds.of(settings))
        await db.start()  # applies migrations
        admission = Admission(db, settings)
        engine = MediaEngine()
        await engine.start()
        peers = PeerFactory(settings.ice_servers, loopback_only=settings.ice_loopback_only,
                            join_batch=settings.limits.join_batch,
                            peer_timeout_s=settings.limits.peer_timeout_s)
        rooms = RoomRegistry(settings=settings, engine=engine, peers=peers, hooks=admission)
        app.state.settings = settings
        app.state.db = db
        app.state.admission = admission
        app.state.engine = engine
        app.state.peers = peers
        app.state.rooms = rooms
        log.info("mirp ready at %s", settings.resolved_base_url())
        try:
            async with work.pool(settings.cpu_workers):  # CPU work off the loop (store/work.py)
                yield
        finally:
            await rooms.close()
            await peers.close()
            await engine.close()
            await db.close()

    app = FastAPI(title="MIRP", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings

    @app.exception_handler(MirpError)
    async def _mirp_error(_: Request, exc: MirpError) -> JSONResponse:
        response = _error(exc.http_status, exc.code, exc.message, exc.details)
        if isinstance(exc, Unavailable):  # worth retrying, and when
            response.headers["Retry-After"] = str(exc.details.get("retry_after_s",
                                                                  RETRY_AFTER_S))
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        first = fields[0] if fields else {"field": "", "message": "invalid request"}
        return _error(422, "invalid_input", f"{first['field']}: {first['message']}",
                      {"fields": fields})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                 409: "conflict", 413: "too_large"}
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
