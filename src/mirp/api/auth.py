"""Organizer accounts: signup, login (bearer token), me."""

from __future__ import annotations

from fastapi import APIRouter

from mirp.api.deps import AppSettings, CurrentOrganizer, DbSession
from mirp.store import accounts
from mirp.store.schemas import AuthOut, LoginIn, OrganizerOut, SignupIn

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/signup", status_code=201, response_model=AuthOut)
async def signup(body: SignupIn, session: DbSession, settings: AppSettings) -> AuthOut:
    """Create an organizer account; answers a login token right away."""
    organizer = await accounts.create_account(session, email=body.email, name=body.name,
                                              password=body.password)
    return accounts.auth_out(settings, organizer)


@router.post("/login", response_model=AuthOut)
async def login(body: LoginIn, session: DbSession, settings: AppSettings) -> AuthOut:
    organizer = await accounts.login(session, body.email, body.password)
    return accounts.auth_out(settings, organizer)


@router.get("/me", response_model=OrganizerOut)
async def me(organizer: CurrentOrganizer) -> OrganizerOut:
    return accounts.organizer_out(organizer)
