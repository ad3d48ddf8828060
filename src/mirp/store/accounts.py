"""Organizer accounts: argon2 password hashes, login tokens, and the CLI's `admin create`."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mirp import tokens
from mirp.config import Settings
from mirp.errors import Conflict, InvalidInput, Unauthorized
from mirp.ids import new_id
from mirp.store import tables as t
from mirp.store import work
from mirp.store.passwords import hash_password, verify_password
from mirp.store.schemas import AuthOut, OrganizerOut, _email


def organizer_out(o: t.Organizer) -> OrganizerOut:
    return OrganizerOut(id=o.id, email=o.email, name=o.name, is_admin=o.is_admin)


def auth_out(settings: Settings, o: t.Organizer) -> AuthOut:
    token = tokens.issue_organizer(settings.resolved_secret_key(), o.id,
                                   ttl=settings.login_ttl_hours * 3600)
    return AuthOut(token=token, organizer=organizer_out(o))


async def _by_email(session: AsyncSession, email: str) -> t.Organizer | None:
    stmt = select(t.Organizer).where(func.lower(t.Organizer.email) == email.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def create_account(session: AsyncSession, *, email: str, name: str, password: str,
                         admin: bool = False) -> t.Organizer:
    clean = _email(email)
    if clean is None:
        raise InvalidInput("email: an e-mail address is needed", {"field": "email"})
    if len(password) < 8:
        raise InvalidInput("password: at least 8 characters", {"field": "password"})
    if not name.strip():
        raise InvalidInput("name: a name is needed", {"field": "name"})
    # hashed before the first query: the transaction (on SQLite, the write lock) is not yet
    # open while a worker hashes
    password_hash = await work.run(hash_password, password)
    if await _by_email(session, clean) is not None:
        raise Conflict("an account with this e-mail exists", {"field": "email"})
    organizer = t.Organizer(id=new_id("o"), email=clean.lower(), name=name.strip(),
                            password_hash=password_hash,
                            is_admin=admin,
                            created_at=t.utcnow())
    session.add(organizer)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent signup with the same e-mail
        raise Conflict("an account with this e-mail exists", {"field": "email"}) from exc
    return organizer


async def login(session: AsyncSession, email: str, password: str) -> t.Organizer:
    """The account, if the password is right. The hash is read in a short transaction of its
    own (the request's is not begun), and verified in the worker pool with no transaction
    open: on SQLite a transaction holds the write lock, and a storm of logins would otherwise
    keep every writer waiting for the hashes."""
    async with AsyncSession(session.bind, expire_on_commit=False) as own, own.begin():
        organizer = await _by_email(own, email)
    # in the worker pool: a hash takes tens of milliseconds, longer than a media tick
    if not await work.run(verify_password, organizer.password_hash if organizer else None,
                          password):
        organizer = None
    if organizer is None:
        raise Unauthorized("wrong e-mail or password")
    return organizer


async def organizer_from_token(session: AsyncSession, settings: Settings,
                               token: str) -> t.Organizer:
    claims = tokens.verify_organizer(settings.resolved_secret_key(), token)
    organizer = await session.get(t.Organizer, claims.organizer_id)
    if organizer is None:
        raise Unauthorized("this account no longer exists")
    return organizer


async def create_account_cli(settings: Settings, *, email: str, name: str, password: str,
                             admin: bool = True) -> None:
    """`mirp admin create`: migrate the database if needed, then create the account."""
    from mirp.store.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url())
    await db.start()
    try:
        async with db.session() as session:
            await create_account(session, email=email, name=name, password=password,
                                 admin=admin)
    finally:
        await db.close()
