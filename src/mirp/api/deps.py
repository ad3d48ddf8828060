"""Every dependency of the routes, as an Annotated type: `AppSettings`, `Db`, `StartedDb`,
`DbSession`, `CurrentOrganizer`, `OrganizerNoTx`, `AppThrottle`, `Rooms`, `Cluster`, `AppTally`,
`AppWebcast`; the webcast's hot route calls `get_app_settings`, `get_webcast_modes`,
`started_db` and `get_db` itself (api/webcast.py). A route names what it needs by type; what
the app holds (app.state) is read here and nowhere else.

`DbSession` is one transaction per request: committed when the route returns, rolled back when
it raises, and (scope="function") finished BEFORE the response is sent, so a client never sees
a success whose data was not written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request

from mirp.api.throttle import Throttle
from mirp.config import Settings
from mirp.errors import Unauthorized, Unavailable
from mirp.metrics import Tally, tally_of
from mirp.rooms.cluster_rooms import ClusterRooms
from mirp.rooms.registry import RoomsReadout
from mirp.store import accounts
from mirp.store import tables as t
from mirp.store.db import Database, SqlSession


def get_settings(request: Request) -> Settings:
    """The app's settings. Without a configured public base URL, links (join links) are built on
    the address the organizer reached the server at, not on the address it listens on (which may
    be 0.0.0.0 or a loopback address nobody else can open)."""
    settings: Settings = request.app.state.settings
    if settings.public_base_url:
        return settings
    settings.resolved_secret_key()  # resolve once on the shared object, not on each copy
    return settings.model_copy(update={"public_base_url": str(request.base_url).rstrip("/")})


def started_db(request: Request) -> Database | None:
    """The app's database, or None before the lifespan started it (/readyz says so)."""
    db: Database | None = getattr(request.app.state, "db", None)
    return db


def get_db(db: Annotated[Database | None, Depends(started_db)]) -> Database:
    if db is None:
        raise Unavailable("the database is not started")
    return db


async def get_session(db: Annotated[Database, Depends(get_db)]) -> AsyncIterator[SqlSession]:
    async with db.session() as session:
        yield session


def get_app_settings(request: Request) -> Settings:
    """The app's settings as they are (no copy per request: for the hot webcast routes, which
    build no links)."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings)]
StartedDb = Annotated[Database | None, Depends(started_db)]
Db = Annotated[Database, Depends(get_db)]
DbSession = Annotated[SqlSession, Depends(get_session, scope="function")]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("sign in first (Authorization: Bearer <token>)")
    return token.strip()


async def current_organizer(request: Request, session: DbSession,
                            settings: AppSettings) -> t.Organizer:
    return await accounts.organizer_from_token(session, settings, bearer_token(request))


CurrentOrganizer = Annotated[t.Organizer, Depends(current_organizer)]


async def organizer_outside_transaction(request: Request, db: Db,
                                        settings: AppSettings) -> t.Organizer:
    """The signed-in organizer, read in its own short transaction. For routes that hand work to
    the worker pool or stream, and open short transactions themselves: with `DbSession` they
    would hold one (on SQLite, the write lock) for their whole duration."""
    token = bearer_token(request)
    async with db.session() as session:
        return await accounts.organizer_from_token(session, settings, token)


OrganizerNoTx = Annotated[t.Organizer, Depends(organizer_outside_transaction)]


def get_throttle(request: Request) -> Throttle:
    """The app's throttle (api/throttle.py), made on first use from the app's settings."""
    throttle: Throttle | None = getattr(request.app.state, "throttle", None)
    if throttle is None:
        settings: Settings = request.app.state.settings
        throttle = request.app.state.throttle = Throttle(settings.rate_limits)
    return throttle


AppThrottle = Annotated[Throttle, Depends(get_throttle)]


class WebcastLike(Protocol):
    """The webcast worker as the API sees it (webcast/service.py's Webcaster)."""

    def status(self, meeting_id: str) -> Any: ...


class WebcastModes:
    """Each meeting's webcast option, cached a few seconds: a viewer's every playlist poll and
    segment must not cost a database query (api/webcast.py). An options change on this node
    forgets its entry at once (api/meetings.py); another node's cache expires within `ttl_s`."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self.modes: dict[str, tuple[float, str | None]] = {}  # None: no such meeting

    def forget(self, meeting_id: str) -> None:
        self.modes.pop(meeting_id, None)


def get_webcast(request: Request) -> WebcastLike | None:
    """The app's webcast worker (None: not started, e.g. REST-only tests)."""
    webcast: WebcastLike | None = getattr(request.app.state, "webcast", None)
    return webcast


def get_webcast_modes(request: Request) -> WebcastModes:
    modes: WebcastModes | None = getattr(request.app.state, "webcast_modes", None)
    if modes is None:
        modes = request.app.state.webcast_modes = WebcastModes()
    return modes


AppWebcast = Annotated[WebcastLike | None, Depends(get_webcast)]
AppWebcastModes = Annotated[WebcastModes, Depends(get_webcast_modes)]


class LiveRooms(Protocol):
    """The live side as the API sees it (rooms/registry.py's RoomRegistry implements it).

    Reads: an open meeting's overview (None: its room is not open) and the journal's health.
    Decisions, called after the route's own commit (api/enforce.py): plain ids and strings, so
    that in a cluster they travel over the Bus to the meeting's origin (rooms/cluster_rooms.py
    ClusterRooms; the overview too); the other reads are this node's own."""

    async def live_overview(self, meeting_id: str) -> dict[str, Any] | None: ...
    def health(self) -> Mapping[str, object] | None: ...
    async def media_check(self) -> dict[str, Any] | None: ...
    def readout(self) -> RoomsReadout: ...
    async def media_readout(self) -> dict[str, float] | None: ...
    async def revoke_invitation(self, meeting_id: str, invitation_id: str) -> list[str]: ...
    async def meeting_deleted(self, meeting_id: str) -> None: ...
    async def options_changed(self, meeting_id: str, webcast: str, recording: bool) -> None: ...
    async def meeting_status(self, meeting_id: str, status: str, by: str | None = None) -> None: ...
    async def booths_changed(self, meeting_id: str, booths: Sequence[str]) -> list[str]: ...


class NoRooms:
    """No live side in this app (REST-only tests, tools): no room is open, nothing to enforce."""

    async def live_overview(self, meeting_id: str) -> dict[str, Any] | None:
        return None

    def health(self) -> Mapping[str, object] | None:
        return None  # no journal

    async def media_check(self) -> dict[str, Any] | None:
        return None  # no media plane

    def readout(self) -> RoomsReadout:
        return RoomsReadout(rooms=0, sessions=0, queue_depth_max=0, queue_depth_sum=0,
                            commands_handled=0, commands_refused=0)

    async def media_readout(self) -> dict[str, float] | None:
        return None  # no media plane

    async def revoke_invitation(self, meeting_id: str, invitation_id: str) -> list[str]:
        return []

    async def meeting_deleted(self, meeting_id: str) -> None:
        return None

    async def options_changed(self, meeting_id: str, webcast: str, recording: bool) -> None:
        return None

    async def meeting_status(self, meeting_id: str, status: str, by: str | None = None) -> None:
        return None

    async def booths_changed(self, meeting_id: str, booths: Sequence[str]) -> list[str]:
        return []


def get_rooms(request: Request) -> LiveRooms:
    """The app's RoomRegistry (app.py's lifespan), or NoRooms when it runs without one."""
    rooms: LiveRooms | None = getattr(request.app.state, "rooms", None)
    return rooms if rooms is not None else NoRooms()


Rooms = Annotated[LiveRooms, Depends(get_rooms)]


def get_cluster(request: Request) -> ClusterRooms | None:
    """This node's part of the cluster (app.py, with MIRP_REDIS_URL), else None."""
    cluster: ClusterRooms | None = getattr(request.app.state, "cluster", None)
    return cluster


Cluster = Annotated[ClusterRooms | None, Depends(get_cluster)]


def get_tally(request: Request) -> Tally:
    """What signaling and the HTTP middleware count (mirp/metrics.py), for /metrics."""
    return tally_of(request.app.state)


AppTally = Annotated[Tally, Depends(get_tally)]
