"""Self-registration: public info and request; the organizer lists, approves, rejects."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from mirp.api.deps import AppSettings, AppThrottle, CurrentOrganizer, Db, DbSession, OrganizerNoTx
from mirp.api.paging import PAGE_DEFAULT, After, Limit, cursor_page
from mirp.api.throttle import account_key, client_ip
from mirp.store import registrations as regs
from mirp.store.schemas import RegistrationIn, RegistrationInfoOut, RegistrationOut

router = APIRouter(prefix="/meetings/{meeting_id}", tags=["registrations"])


@router.get("/registration", response_model=RegistrationInfoOut)
async def registration_info(meeting_id: str, session: DbSession,
                            settings: AppSettings) -> RegistrationInfoOut:
    """Public: the meeting's title, schedule and languages, only while registration is open;
    `mail`: whether the link will be e-mailed once approved."""
    return await regs.info(session, meeting_id, settings.mail_on())


@router.post("/registrations", status_code=201, response_model=RegistrationOut)
async def register(meeting_id: str, body: RegistrationIn, request: Request, session: DbSession,
                   settings: AppSettings, throttle: AppThrottle) -> RegistrationOut:
    """Public: ask to take part (name, e-mail, delegation, role delegate|observer).
    Rate-limited per address and per (meeting, e-mail)."""
    throttle.hit("registration", client_ip(request), throttle.rates.registration_per_ip)
    throttle.hit("registration-account", account_key(f"{meeting_id} {body.email}"),
                 throttle.rates.registration_per_account)
    return regs.registration_out(settings, await regs.register(session, meeting_id, body))


@router.get("/registrations", response_model=list[RegistrationOut])
async def list_registrations(
        meeting_id: str, db: Db, settings: AppSettings, organizer: OrganizerNoTx,
        request: Request, limit: Limit = PAGE_DEFAULT, after: After = None) -> Response:
    """One page in arrival order (default 100, at most 1000) after the registration `after`;
    while more follow, `Link` (rel="next") and `X-Next-After` say where the next page is."""
    body, next_after = await regs.registration_page(db, settings, organizer, meeting_id, limit,
                                                    after)
    return cursor_page(request, body, limit, next_after)


@router.post("/registrations/{registration_id}/approve", response_model=RegistrationOut)
async def approve(meeting_id: str, registration_id: str, session: DbSession,
                  settings: AppSettings, organizer: CurrentOrganizer) -> RegistrationOut:
    """Issues a named single-use invitation; its link is in `join_url`."""
    reg, inv = await regs.approve(session, settings, organizer, meeting_id, registration_id)
    return regs.registration_out(settings, reg, inv)


@router.post("/registrations/{registration_id}/reject", response_model=RegistrationOut)
async def reject(meeting_id: str, registration_id: str, session: DbSession,
                 settings: AppSettings, organizer: CurrentOrganizer) -> RegistrationOut:
    return regs.registration_out(settings,
                                 await regs.reject(session, organizer, meeting_id,
                                                   registration_id))
