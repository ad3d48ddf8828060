"""Joining with an invitation token: peek and join (uses up one use).

The token travels in the request BODY on both, never in the URL: URLs end up in access logs,
proxy logs and browser history. Both are rate-limited per address and per token."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mirp.api.deps import AppSettings, AppThrottle, DbSession
from mirp.api.throttle import account_key, client_ip
from mirp.store import invites
from mirp.store.schemas import JoinIn, JoinOut, JoinPeekIn, JoinPeekOut

router = APIRouter(prefix="/join", tags=["join"])


def _limit(request: Request, throttle: AppThrottle, token: str) -> None:
    throttle.hit("join", client_ip(request), throttle.rates.join_per_ip)
    throttle.hit("join-token", account_key(token), throttle.rates.join_per_token)


@router.post("/peek", response_model=JoinPeekOut)
async def peek(body: JoinPeekIn, request: Request, session: DbSession, settings: AppSettings,
               throttle: AppThrottle) -> JoinPeekOut:
    """What the invitation is for (meeting, role, booth, whether it is named). Uses nothing."""
    _limit(request, throttle, body.token)
    return await invites.peek(session, settings, body.token)


@router.post("", response_model=JoinOut)
async def join(body: JoinIn, request: Request, session: DbSession, settings: AppSettings,
               throttle: AppThrottle) -> JoinOut:
    """Uses one use of the invitation; answers the participant token for the WebSocket."""
    _limit(request, throttle, body.token)
    return await invites.join(session, settings, body)
