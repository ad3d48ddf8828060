"""The invitation outbox: e-mail that survives a mail server's outage.

Asking for a message only marks the invitation's row (`mark_to_send`, in the request's own
transaction), so a request never waits for SMTP and a crash or an outage loses nothing: the
row says "queued" until a send succeeds. `Outbox` is the one task that sends: it claims due
rows with a conditional UPDATE (a lease: two processes never send one row at once), sends
outside any transaction, and records the outcome: "sent"; "retrying" with the reason and a
doubling wait; "failed" with the reason when the server refused the address for good (5xx)
or after `smtp_attempts` tries. Cluster note: each node runs an outbox; the lease keeps them
apart, but a node that dies mid-send lets the lease lapse and the row is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import select, update

from mirp.config import Settings
from mirp.store import bulk, mailtext
from mirp.store import tables as t
from mirp.store.db import Database
from mirp.store.invites import invitation_data

log = logging.getLogger("mirp.mail")

BATCH = 20  # rows claimed per turn
MAX_WAIT_S = 3600.0  # the back-off's cap


def backoff(settings: Settings, attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: retry_s, doubling, capped."""
    return float(min(settings.smtp_retry_s * 2 ** max(0, attempts - 1), MAX_WAIT_S))


def _permanent(exc: BaseException) -> bool:
    """The server said no for good (a 5xx on the address or the message): retrying is useless."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 500 <= exc.code < 600 \
        and not isinstance(exc, aiosmtplib.SMTPAuthenticationError)


class Outbox:
    """Sends what the rows ask for; woken by `wake()` after a commit, else polls."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mirp-mail-outbox")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._woken.set()

    async def _run(self) -> None:
        poll = min(self._settings.smtp_retry_s, 5.0)
        while True:
            try:
                while await self.drain() == BATCH:
                    pass
            except Exception:  # the database away: the rows wait, the loop keeps going
                log.exception("mail outbox: a turn failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), poll)
            self._woken.clear()

    async def drain(self) -> int:
        """One turn: claim the due rows, send each, record each outcome. Answers the count
        claimed."""
        now = t.utcnow()
        lease = now + timedelta(seconds=3 * self._settings.smtp_timeout_s)
        async with self._db.session() as session:
            due = (await session.execute(
                select(t.Invitation.id, t.Invitation.mail_next_at)
                .where(t.Invitation.mail_next_at <= now)
                .order_by(t.Invitation.mail_next_at).limit(BATCH))).all()
            claimed: list[str] = []
            for inv_id, at in due:
                won = await session.execute(
                    update(t.Invitation)
                    .where(t.Invitation.id == inv_id, t.Invitation.mail_next_at == at)
                    .values(mail_next_at=lease).execution_options(synchronize_session=False))
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(inv_id)
        for inv_id in claimed:
            await self._send_one(inv_id)
        return len(due)

    async def _send_one(self, inv_id: str) -> None:
        async with self._db.session() as session:
            inv = await session.get(t.Invitation, inv_id)
            if inv is None:
                return
            meeting = await session.get(t.Meeting, inv.meeting_id)
            if inv.email is None or inv.revoked_at is not None or meeting is None:
                inv.mail_status, inv.mail_next_at = "failed", None
                inv.mail_error = "revoked" if inv.revoked_at is not None else "no address"
                return
            token = bulk.sign(self._settings.resolved_secret_key(), invitation_data(inv))
            message = mailtext.compose(mailtext.Invite(
                to=inv.email, name=inv.name, role=inv.role, booth=inv.booth,
                language=inv.language or (meeting.languages or ["en"])[0], title=meeting.title,
                starts_at=meeting.starts_at,
                join_url=bulk.join_url(self._settings.resolved_base_url(), token)),
                self._settings.mail_from())
        error: BaseException | None = None
        try:
            await self._deliver(message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = exc
        await self._record(inv_id, error)

    async def _deliver(self, message: EmailMessage) -> None:
        s = self._settings
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_user,
            password=s.smtp_password, use_tls=s.smtp_security == "tls",
            start_tls=True if s.smtp_security == "starttls" else False,
            timeout=s.smtp_timeout_s)

    async def _record(self, inv_id: str, error: BaseException | None) -> None:
        now = t.utcnow()
        async with self._db.session() as session:
            inv = await session.get(t.Invitation, inv_id)
            if inv is None:
                return
            inv.mail_attempts += 1
            if error is None:
                inv.mail_status, inv.mail_error = "sent", None
                inv.mail_sent_at, inv.mail_next_at = now, None
                log.info("mail: invitation %s sent", inv_id)
                return
            reason = f"{type(error).__name__}: {error}"[:300]
            if _permanent(error) or inv.mail_attempts >= self._settings.smtp_attempts:
                inv.mail_status, inv.mail_next_at = "failed", None
            else:
                inv.mail_status = "retrying"
                inv.mail_next_at = now + timedelta(
                    seconds=backoff(self._settings, inv.mail_attempts))
            inv.mail_error = reason
            log.warning("mail: invitation %s %s (%s)", inv_id, inv.mail_status, reason)

