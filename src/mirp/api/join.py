"""Joining with an invitation token: peek (GET) and join (POST, uses up one use)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mirp.api.deps import AppSettings, DbSession
from mirp.store import invites
from mirp.store.schemas import JoinIn, JoinOut, JoinPeekOut

router = APIRouter(prefix="/join", tags=["join"])


@router.get("", response_model=JoinPeekOut)
async def peek(token: Annotated[str, Query(min_length=1, max_length=4096)], session: DbSession,
               settings: AppSettings) -> JoinPeekOut:
    """What the invitation is for (meeting, role, booth, whether it is named). Uses nothing."""
    return await invites.peek(session, settings, token)


@router.post("", response_model=JoinOut)
async def join(body: JoinIn, session: DbSession, settings: AppSettings) -> JoinOut:
    """Uses one use of the invitation; answers the participant token for the WebSocket."""
    return await invites.join(session, settings, body)
