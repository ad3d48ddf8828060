"""The routes' dependencies, as Annotated types (`DbSession`, `CurrentOrganizer`, `AppSettings`).

`DbSession` is one transaction per request: committed when the route returns, rolled back when
it raises, and (scope="function") finished BEFORE the response is sent, so a client never sees
a success whose data was not written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mirp.config import Settings
from mirp.errors import Unauthorized, Unavailable
from mirp.store import accounts
from mirp.store import tables as t
from mirp.store.db import Database


def get_settings(request: Request) -> Settings:
    """The app's settings. Without a configured public base URL, links (join links) are built on
    the address the organizer reached the server at, not on the address it listens on (which may
    be 0.0.0.0 or a loopback address nobody else can open)."""
    settings: Settings = request.app.state.settings
    if settings.public_base_url:
        return settings
    settings.resolved_secret_key()  # resolve once on the shared object, not on each copy
    return settings.model_copy(update={"public_base_url": str(request.base_url).rstrip("/")})


def get_db(request: Request) -> Database:
    db: Database | None = getattr(request.app.state, "db", None)
    if db is None:
        raise Unavailable("the database is not started")
    return db


async def get_session(db: Annotated[Database, Depends(get_db)]) -> AsyncIterator[AsyncSession]:
    async with db.session() as session:
        yield session


AppSettings = Annotated[Settings, Depends(get_settings)]
Db = Annotated[Database, Depends(get_db)]
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


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
