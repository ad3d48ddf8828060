"""Organizer accounts: signup, login (bearer token), me.

Signup and login are rate-limited per address and per account (api/throttle.py); wrong
passwords earn a growing wait. Signup can be closed (`MIRP_SIGNUP=closed`, the default when the
server listens beyond loopback): accounts then come from `mirp admin create`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from mirp.api.deps import AppSettings, AppThrottle, CurrentOrganizer, DbSession
from mirp.api.throttle import account_key, client_ip
from mirp.errors import Forbidden, Unauthorized
from mirp.store import accounts
from mirp.store.schemas import AuthOut, LoginIn, OrganizerOut, SignupIn

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/signup", status_code=201, response_model=AuthOut)
async def signup(body: SignupIn, request: Request, session: DbSession, settings: AppSettings,
                 throttle: AppThrottle) -> AuthOut:
    """Create an organizer account; answers a login token right away."""
    if not settings.signup_open():
        raise Forbidden("signup is closed on this server: ask its administrator for an account",
                        {"reason": "signup_closed"})
    throttle.hit("signup", client_ip(request), throttle.rates.signup_per_ip)
    organizer = await accounts.create_account(session, email=body.email, name=body.name,
                                              password=body.password)
    return accounts.auth_out(settings, organizer)


@router.post("/login", response_model=AuthOut)
async def login(body: LoginIn, request: Request, session: DbSession, settings: AppSettings,
                throttle: AppThrottle) -> AuthOut:
    ip, account = client_ip(request), account_key(body.email)
    throttle.check_login(ip, account)
    throttle.hit("login", ip, throttle.rates.login_per_ip)
    throttle.hit("login-account", account, throttle.rates.login_per_account)
    try:
        organizer = await accounts.login(session, body.email, body.password)
    except Unauthorized:
        throttle.login_failed(ip, account)
        raise
    throttle.login_succeeded(account)
    return accounts.auth_out(settings, organizer)


@router.get("/me", response_model=OrganizerOut)
async def me(organizer: CurrentOrganizer) -> OrganizerOut:
    return accounts.organizer_out(organizer)
