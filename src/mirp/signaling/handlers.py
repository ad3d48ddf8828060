"""What each client message does: hello admits the Session, offer/ice go to the Peer, ping/pong
are the heartbeat, leave ends the Session for good, and every other message, parsed as the
Room's command itself (rooms/commands.py), goes to the Room (which checks roles).

Errors are answered, not fatal: a malformed, oversized, unknown or refused message gets an
`error {id, code, message, details}` and the Session reads on. Only failures of `hello` (bad
token, removed, wrong meeting, closed meeting) end the Session, with the error's ws_close code
(44xx: the browser does not reconnect). A hello that fails for a reason that passes (the server
busy, the database away, the room restarting) ends it with 1013: the browser retries, backing off.

The hello timer runs from connect to the hello's *arrival*: time spent queueing for admission
(signaling/admission.py) or in the database is the server's, never held against the client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from mirp.config import Settings
from mirp.errors import Conflict, InvalidMessage, MirpError, Unauthorized, Unavailable
from mirp.metrics import Tally
from mirp.rooms import commands as c
from mirp.rooms.door import JoinedRoom, RoomDoor
from mirp.signaling import protocol as p
from mirp.signaling.admission import AdmissionControl
from mirp.signaling.session import Session

log = logging.getLogger("mirp.signaling")

NORMAL_CLOSE = 1000
NO_HELLO_CLOSE = 1008  # policy violation: no hello in time (retryable: the line may be slow)
RATE_PER_S = 20  # messages per second a client may send, on average...
RATE_BURST = 60  # ...and at once (a browser trickles a dozen ICE candidates in a burst)


class SessionHandler:
    """What one Session's client messages do: before hello, admission; then, joined to one Room,
    the Peer's offer and candidates, the heartbeat and the Room's commands."""

    def __init__(
        self,
        session: Session,
        registry: RoomDoor,
        meeting_id: str | None = None,
        hello_timeout_s: float | None = None,
        admission: AdmissionControl | None = None,
        client_ip: str = "?",
        tally: Tally | None = None,
    ) -> None:
        self.session = session
        self.registry = registry
        self.meeting_id = meeting_id
        self.max_bytes = session.limits.max_message_bytes
        self.hello_timeout_s = hello_timeout_s or max(5.0, session.limits.heartbeat_s)
        self.runtime: JoinedRoom | None = None
        self.participant_id: str | None = None
        self.left = False
        self.admission = admission or AdmissionControl(Settings(limits=session.limits))
        self.client_ip = client_ip
        self.tally = tally or Tally()  # joins and failed joins, for /metrics
        self._hello_timer: asyncio.TimerHandle | None = None
        # a token bucket: one client cannot flood the Room (and through it everyone's outbox)
        self._allowance = float(RATE_BURST)
        self._refilled = time.monotonic()

    async def serve(self) -> None:
        self._hello_timer = asyncio.get_running_loop().call_later(
            self.hello_timeout_s, self._hello_late
        )
        try:
            await self.session.run(self.on_message)
        finally:
            self._hello_timer.cancel()
            if self.runtime is not None and self.participant_id is not None:
                try:
                    await self.runtime.leave_session(
                        self.participant_id, self.session, for_good=self.left
                    )
                except Exception:
                    log.exception("leaving room %s failed", self.runtime.meeting_id)

    def _hello_late(self) -> None:
        """No hello arrived in time (one that arrived and waits for admission cancelled us)."""
        error = InvalidMessage(
            f"send hello {{token}} within {self.hello_timeout_s:g} s of connecting",
            {"hello_timeout_s": self.hello_timeout_s},
        )
        if not self.session.closing:
            self.tally.join_failed(error, NO_HELLO_CLOSE)
        self.session.close(NO_HELLO_CLOSE, "no hello", error)

    def _fail(self, exc: MirpError, msg_id: int | str | None) -> None:
        if self.runtime is None:  # nothing works before a successful hello: end it
            if not self.session.closing:  # counted once, not for what follows the close
                self.tally.join_failed(exc)
            self.session.close(exc.ws_close, exc.message, exc, msg_id)
        else:
            self.session.send(p.error_message(exc, msg_id))

    def _rate_ok(self) -> bool:
        now = time.monotonic()
        self._allowance = min(RATE_BURST, self._allowance + (now - self._refilled) * RATE_PER_S)
        self._refilled = now
        if self._allowance < 1.0:
            return False
        self._allowance -= 1.0
        return True

    async def on_message(self, raw: str | bytes) -> None:
        if not self._rate_ok():
            self.session.send(
                p.error_message(
                    Unavailable(
                        f"too many messages: at most {RATE_PER_S} per second",
                        {"rate_per_s": RATE_PER_S, "burst": RATE_BURST},
                    )
                )
            )
            return
        try:
            incoming = p.parse_client(raw, self.max_bytes)
        except p.ProtocolError as exc:
            self._fail(exc, exc.msg_id)
            return
        except MirpError as exc:  # MessageTooLarge
            self._fail(exc, None)
            return
        try:
            reply = await self.dispatch(incoming.message, incoming.id)
        except MirpError as exc:
            self._fail(exc, incoming.id)
            return
        if reply is not None:
            self.session.send(reply)

    async def dispatch(
        self, msg: p.ClientMessage, msg_id: p.MessageId | None = None
    ) -> dict[str, Any] | None:
        """Handle one message; the reply to send (ack, answer, pong) or None."""
        if isinstance(msg, p.Hello):
            if self._hello_timer is not None:
                self._hello_timer.cancel()  # it arrived: what follows is the server's time
            await self._hello(msg)
            return None
        if self.runtime is None or self.participant_id is None:
            raise Unauthorized("send hello {token} first")
        runtime, pid = self.runtime, self.participant_id
        ack = p.dump(p.Ack(id=msg_id)) if msg_id is not None else None
        match msg:
            case p.Offer():
                self.admission.check_offer(self.client_ip)
                answer = await runtime.offer(pid, self.session, msg.sdp)
                return p.dump(p.Answer(sdp=answer, id=msg_id))
            case p.Ice():
                given = msg.candidate  # the fields a browser left null are as good as absent
                candidate = (
                    None if given is None else {k: v for k, v in given.items() if v is not None}
                )
                await runtime.candidate(pid, candidate)
                return ack
            case p.Ping():
                self.session.watched = True
                return p.dump(p.ServerPong(id=msg_id, t=msg.t))
            case p.Pong():
                self.session.watched = True
                return None
            case c.Leave():  # the Room drops the participant and that is on disk before the
                self.left = True  # ack; then the Session ends (its end finds them gone already)
                await runtime.command(pid, self.session, msg, ack)
                self.session.close(NORMAL_CLOSE, "left")
                return None
            case c.Command():
                await runtime.command(pid, self.session, msg, ack)
                return None
        raise p.ProtocolError(f"{msg.type} is not handled here", msg_id)  # unreachable

    async def _hello(self, msg: p.Hello) -> None:
        if self.runtime is not None:
            raise Conflict("already joined: hello is sent once per connection")
        admission = self.admission
        gate = admission.gate
        async with gate.participant(msg.token):  # one handshake per participant at a time
            try:
                try:
                    async with gate.slot(), asyncio.timeout(admission.authorize_timeout_s):
                        grant = await self.registry.authorize(msg.token, self.meeting_id)
                except TimeoutError:
                    raise Unavailable(
                        "authorization took too long; try again",
                        {"reason": "timeout", "retry_after_s": 2.0},
                    ) from None
                self.participant_id = grant.participant_id
                self.runtime = await self.registry.join(grant, self.session, msg.resume)
                self.tally.joins += 1
            except MirpError:
                raise
            except Exception as exc:  # the database away or failing: worth a retry
                log.warning("hello: admission failed: %r", exc)
                raise Unavailable(
                    "the server cannot admit you now; try again",
                    {"reason": "database", "retry_after_s": 2.0},
                ) from None
