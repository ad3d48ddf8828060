"""create_app(settings) and the lifespan: the only place that wires the parts together."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from mirp.api import build_router as build_api_router
from mirp.api.deps import LiveRooms
from mirp.api.webcast import WebcastApp
from mirp.captions.service import CaptionService, Heard, Wanted
from mirp.cluster.directory import Lease, NodeInfo, NodeLoad
from mirp.cluster.keeper import Keeper
from mirp.cluster.redis_bus import RedisBus
from mirp.cluster.redis_directory import RedisDirectory
from mirp.cluster.snapshots import RedisSnapshots
from mirp.config import Settings
from mirp.errors import MirpError, RateLimited, Unavailable
from mirp.httpguard import BodyCap, NoNulInUrl, SecurityHeaders
from mirp.journal import Journal
from mirp.media.local import LocalPlane
from mirp.media.plane import MediaPlane, PlaneConfig
from mirp.media.process import ProcessPlane
from mirp.metrics import HttpCount, tally_of
from mirp.rooms.cluster_rooms import ClusterRooms
from mirp.rooms.placement import ClusterDoor, ClusterNode
from mirp.rooms.registry import RoomRegistry
from mirp.rooms.room import Room
from mirp.signaling.routes import build_router as build_signaling_router
from mirp.store import work
from mirp.store.admission import Admission
from mirp.store.db import RETRY_AFTER_S, Database, DbBounds
from mirp.store.mail import Outbox
from mirp.store.transcripts import Line, save
from mirp.webcast import subtitles
from mirp.webcast.receiver import Receiver
from mirp.webcast.service import Webcaster

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


def webcast_captions(rooms: RoomRegistry, webcast: Receiver) -> Callable[[Heard], None]:
    """The webcast's part of captions (webcast/subtitles.py): the worker learns which channels
    of a meeting are captioned (asked as a meeting is configured), and gets each caption on
    the renditions that show it (the floor's, marked, on those carrying the floor)."""
    def room_of(meeting_id: str) -> Room | None:
        runtime = rooms.rooms.get(meeting_id)
        return runtime.room if runtime is not None else None

    webcast.subtitled = lambda meeting_id: subtitles.subtitled(room_of(meeting_id))

    def hand_over(h: Heard) -> None:
        room = room_of(h.meeting_id)
        if room is not None:
            for said in subtitles.said(h.meeting_id, room, h.channel, h.text, h.start, h.end):
                webcast.caption(said)

    return hand_over


async def start_captions(settings: Settings, media: MediaPlane, rooms: RoomRegistry,
                         db: Database, webcast: Receiver | None = None) -> CaptionService:
    """The captioner (docs/captions.md): fed the captioned channels of the open rooms; each
    caption to that room's listeners, to the webcast's subtitles (webcast/subtitles.py), then
    into the transcript with the floor holders."""
    def wanted() -> list[Wanted]:
        return [Wanted(mid, channel, rt.room.spec.languages)
                for mid, rt in list(rooms.rooms.items()) for channel in rt.room.spec.captions]

    to_webcast = webcast_captions(rooms, webcast) if webcast is not None else None

    async def deliver(h: Heard) -> None:
        runtime = rooms.rooms.get(h.meeting_id)
        if runtime is None:
            return
        speakers = await runtime.caption(h.channel, h.text, h.start, h.end, h.language)
        if to_webcast is not None:
            to_webcast(h)
        await save(db, h.meeting_id, Line(h.channel, h.language, utc(h.start), utc(h.end),
                                          h.text, speakers))

    config = settings.captions.model_dump()
    config["cache"] = str(settings.data_dir / "captions")
    service = CaptionService(config, media, wanted, deliver)
    await service.start()
    return service


def utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)
def cluster_node(settings: Settings, rooms: RoomRegistry,
                 load: Callable[[], NodeLoad]) -> tuple[ClusterRooms, RedisBus, RedisDirectory]:
    """This process as a node of the cluster (MIRP_REDIS_URL, docs/scaling.md): Directory and
    Bus on Redis, the Keeper heartbeating `load` and renewing the leases (a lease lost deposes
    the Room here: ClusterDoor.lease_lost), the door placing each meeting, and the REST
    decisions forwarded to each meeting's origin (rooms/cluster_rooms.py). Not started."""
    assert settings.redis_url
    url, node_id, limits = settings.redis_url, settings.resolved_node_id(), settings.limits
    directory = RedisDirectory(url, prefix=settings.redis_prefix)
    bus = RedisBus(url, node_id=node_id, prefix=settings.redis_prefix)
    doors: list[ClusterDoor] = []  # the Keeper is made before the door it reports to

    def lost(lease: Lease, error: MirpError) -> None:
        for door in doors:
            door.lease_lost(lease, error)

    def info() -> NodeInfo:  # the door's relay address once it is listening (docs/relay.md)
        return NodeInfo(node_id, doors[0].address if doors else "", load())

    def retaken(lease: Lease) -> None:
        for door in doors:
            door.lease_retaken(lease)

    keeper = Keeper(directory, info, ttl_s=limits.lease_ttl_s, on_lost=lost,
                    on_retaken=retaken)
    # Room snapshots where the node taking a meeting over reads them, sealed with a key every
    # node derives from the shared secret (cluster/snapshots.py)
    seal = hashlib.sha256(b"mirp-snapshots\0" + settings.resolved_secret_key().encode()).digest()
    snapshots = RedisSnapshots(url, key=seal, prefix=settings.redis_prefix)
    node = ClusterNode(node_id, directory, bus, keeper, limits.lease_ttl_s,
                       request_timeout_s=limits.cluster_request_timeout_s,
                       sweep_s=limits.cluster_sweep_s, relay_host=settings.relay_host,
                       relay_advertise=settings.relay_advertise, snapshots=snapshots)
    # built right after the registry, before its start-up restore runs: in a cluster the lease
    # decides where a Room is restored (rooms/placement.py)
    doors.append(ClusterDoor(rooms, node))
    return ClusterRooms(rooms, doors[0]), bus, directory


def node_load(rooms: RoomRegistry, websockets: Callable[[], int]) -> Callable[[], NodeLoad]:
    """What placement compares (cluster/directory.py NodeLoad): the clients connected to this
    process (their fan-out is here, whichever node is their meeting's origin), the channels its
    rooms mix, and this process's CPU since the last heartbeat, as a fraction of the one core
    its event loop can use (not the machine's load: workers on one machine must differ)."""
    last = [time.process_time(), time.monotonic()]

    def load() -> NodeLoad:
        cpu_now, wall_now = time.process_time(), time.monotonic()
        cpu = (cpu_now - last[0]) / max(1e-3, wall_now - last[1])
        last[:] = [cpu_now, wall_now]
        feeds = sum(len({p.channel for p in r.room.participants.values() if p.connected})
                    for r in list(rooms.rooms.values()))  # channels heard, room by room
        return NodeLoad(listeners=websockets(), feeds=feeds, cpu=min(1.0, cpu))

    return load


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
        journal = Journal(settings.journal_file())  # docs/operations.md
        replay = journal.open()
        if replay.records or replay.snapshots:
            log.info("journal: %d records to write, %d rooms to restore",
                     len(replay.records), len(replay.snapshots))
        rooms = RoomRegistry(settings=settings, media=media, store=admission, journal=journal)
        # the registry as REST sees it (api/deps.py LiveRooms) and Sessions (rooms/door.py
        # RoomDoor): mypy checks that it fits both
        live: LiveRooms = rooms
        cluster: tuple[ClusterRooms, RedisBus, RedisDirectory] | None = None
        if settings.redis_url:  # a node of the cluster: Sessions and decisions go by placement
            tally = tally_of(app.state)
            cluster = cluster_node(settings, rooms,
                                   node_load(rooms, lambda: tally.websockets_open))
            cluster[0].start()
            live = cluster[0]
            log.info("cluster node %s on %s", settings.resolved_node_id(), settings.redis_url)
        app.state.cluster = cluster[0] if cluster is not None else None
        app.state.settings = settings
        app.state.db = db
        app.state.admission = admission
        app.state.media = media
        app.state.rooms = live
        webcaster = Webcaster(rooms, media, settings.resolved_media_dir(),  # docs/webcast.md
                              settings.webcast_segment_packets, settings.webcast_window, db)
        webcaster.start()
        app.state.webcast = webcaster
        outbox = Outbox(db, settings) if settings.mail_on() else None  # invitation e-mail
        app.state.outbox = outbox
        if outbox is not None:
            outbox.start()
        captions = (await start_captions(settings, media, rooms, db, webcaster.receiver)
                    if settings.captions.enabled else None)
        app.state.captions = captions  # the captioner's service (docs/captions.md), or None
        log.info("mirp ready at %s", settings.resolved_base_url())
        try:
            async with work.pool(settings.cpu_workers):  # CPU work off the loop (store/work.py)
                yield
        finally:
            if outbox is not None:
                await outbox.close()
            await webcaster.close()
            if captions is not None:
                await captions.close()
            if cluster is not None:  # leases released first: another node may take over
                try:
                    await cluster[0].close()
                except Exception:  # the rooms, media and database must close all the same
                    log.exception("cluster: leaving the cluster failed")
                await cluster[1].aclose()
                await cluster[2].aclose()
            await rooms.close()
            await media.close()
            await db.close()

    # No /docs or /redoc: FastAPI's pages load Swagger UI from a CDN and run an inline script,
    # which the CSP refuses. The OpenAPI document stays at /openapi.json; docs/api.md says more.
    # a WebcastApp: viewers' GETs of /webcast/ answered before the stack (docs/webcast.md)
    app = WebcastApp(title="MIRP", version="0.1.0", lifespan=lifespan, docs_url=None,
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
