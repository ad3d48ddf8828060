"""ICE consent freshness (RFC 7675) and the liveness counters of one peer connection.

The hooks into aioice's and aiortc's private parts are media/compat.py's (its `consent` feature).
When the start-up self-check finds them changed, `install()` does nothing: aioice runs its own
consent check and the silence watchdog is off (`installed` is False), and the self-check says so.

Why not aioice's own consent check: it sends one Binding request every ~5 s with no
retransmission and a 0.5 s transaction timer, and gives up after 6 such timers in a row. A
response that arrives after 0.5 s (a ~600 ms path: satellite, a bad mobile link) finds its
transaction gone and is ignored, so a perfectly healthy peer is dropped after 30–36 s; under CPU
load the 0.5 s timer fires before the loop reads a response already waiting in the socket, and
every peer is dropped. RFC 7675 lets consent lapse only after 30 s *without any* answer.

What we run instead, in aioice's own consent-task slot (so aioice starts it when ICE completes and
cancels it when the connection closes): a check every `interval_s` (randomized 0.8–1.2), each one
registered in the STUN protocol's transaction table until `lapse_s` has passed, so a valid
response counts however late it comes and whichever outstanding check it answers. Consent is
also refreshed by authenticated traffic from the peer: its own STUN checks signed with our
password, and SRTP/SRTCP that decrypted (only the holder of the DTLS keys can produce it).
Consent lapses when nothing of that arrived for `lapse_s`. The deadline is measured against what
was received, and time the server itself was frozen (the loop late by more than a second) is not
counted against the peer; before declaring a lapse the loop is given a moment to read datagrams
already waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aioice.ice
import aioice.stun
from aiortc import RTCDtlsTransport, RTCPeerConnection

from mirp.media import compat

log = logging.getLogger(__name__)

FROZEN_S = 1.0  # the loop this late on a wake-up: the server was frozen, the peer is not at fault

OnExpired = Callable[[], Any]


@dataclass(slots=True)
class ConsentStats:
    """What the consent check saw; read by tests, logs and the operator's debugging."""

    checks_sent: int = 0
    responses: int = 0  # valid responses, each to any outstanding check
    slowest_response_s: float = 0.0
    peer_checks: int = 0  # the peer's own STUN checks, authenticated with our password
    media: int = 0  # SRTP/SRTCP from the peer that decrypted
    frozen_s: float = 0.0  # time the server's loop was frozen, not counted against the peer


class PeerLiveness:
    """Hooks into one peer connection's ICE and DTLS transports: counts what the peer sends (for
    the silence watchdog) and runs consent freshness. Install once the remote description is set
    (the transports exist) and before the answer is created (ICE not started yet)."""

    def __init__(self, pc: RTCPeerConnection, *, interval_s: float, lapse_s: float,
                 loopback_only: bool, on_expired: OnExpired) -> None:
        self.pc = pc
        self.interval_s = interval_s
        self.lapse_s = lapse_s
        self.loopback_only = loopback_only
        self.on_expired = on_expired
        self.stats = ConsentStats()
        self.installed = False  # False: compat's `consent` is off, aioice runs its own check
        self.stun_seen = 0  # every STUN request from the peer, authenticated or not
        self.consent_at: float | None = None  # loop time of the last sign of consent
        self._outstanding: dict[bytes, compat.ConsentCheck] = {}

    # installation ---------------------------------------------------------------------------

    def _transports(self) -> list[RTCDtlsTransport]:
        return [t.receiver.transport for t in self.pc.getTransceivers()]

    def install(self) -> None:
        if not compat.enabled("consent"):
            return
        self.installed = True
        for dtls in self._transports():
            conn = compat.ice_connection(dtls)
            compat.hook_stun_requests(conn, functools.partial(self._request, conn))
            compat.replace_consent_check(conn, functools.partial(self._consent, conn))
            compat.hook_srtp_received(dtls, self._media)

    def _request(self, conn: aioice.ice.Connection, message: aioice.stun.Message,
                 addr: compat.Addr) -> bool:
        if self.loopback_only and addr[0] != compat.LOOPBACK:
            return False  # connectivity checks from elsewhere are ignored in loopback-only mode
        self.stun_seen += 1
        password = conn.local_password
        if "USERNAME" in message.attributes and "MESSAGE-INTEGRITY" in message.attributes \
                and password and message.check_message_integrity(password.encode("utf8")):
            self.stats.peer_checks += 1
            self._refresh()
        return True

    def _media(self) -> None:
        self.stats.media += 1
        self._refresh()

    # counters -------------------------------------------------------------------------------

    def dtls_packets(self) -> int:
        """Datagrams through the DTLS transports (DTLS, SRTP, SRTCP), before any check."""
        if not self.installed:
            return 0
        return sum(compat.dtls_datagrams(dtls) for dtls in self._transports())

    def activity(self) -> int:
        """What the peer sent us so far (its STUN requests, answers to our consent checks,
        DTLS/SRTP datagrams): the silence watchdog's gauge."""
        return self.stun_seen + self.stats.responses + self.dtls_packets()

    def _refresh(self) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to refresh
            self.consent_at = asyncio.get_running_loop().time()

    def _answered(self, check: compat.ConsentCheck) -> None:
        self._forget(check)
        loop = asyncio.get_running_loop()
        self.stats.responses += 1
        self.stats.slowest_response_s = max(self.stats.slowest_response_s,
                                            loop.time() - check.sent_at)
        self._refresh()

    def _forget(self, check: compat.ConsentCheck) -> None:
        self._outstanding.pop(check.tid, None)
        check.forget()

    # consent freshness ----------------------------------------------------------------------

    def _send_checks(self, conn: aioice.ice.Connection, now: float) -> None:
        for check in [c for c in self._outstanding.values() if now - c.sent_at >= self.lapse_s]:
            self._forget(check)  # too old to matter: consent would have lapsed anyway
        for check in compat.send_consent_checks(conn, now, self._answered):
            self._outstanding[check.tid] = check
            self.stats.checks_sent += 1

    async def _consent(self, conn: aioice.ice.Connection) -> None:
        """Runs in aioice's consent-task slot from ICE completion until the connection closes."""
        loop = asyncio.get_running_loop()
        self.consent_at = loop.time()  # ICE has just completed: the peer answered our checks
        next_check = loop.time() + self.interval_s * (0.8 + 0.4 * random.random())
        try:
            while True:
                now = loop.time()
                if now >= next_check:
                    self._send_checks(conn, now)
                    next_check = now + self.interval_s * (0.8 + 0.4 * random.random())
                deadline = self.consent_at + self.lapse_s
                wake = min(next_check, deadline)
                await asyncio.sleep(max(0.0, wake - now))
                late = loop.time() - wake
                if late > FROZEN_S:  # the server was frozen: that time is not the peer's silence
                    self.stats.frozen_s += late
                    self.consent_at = min(loop.time(), self.consent_at + late)
                if loop.time() - self.consent_at >= self.lapse_s:
                    # read what already arrived before deciding (a busy loop may lag behind)
                    await asyncio.sleep(min(0.5, self.interval_s / 4))
                    if loop.time() - self.consent_at >= self.lapse_s:
                        break
        finally:
            for check in list(self._outstanding.values()):
                self._forget(check)
        log.info("consent expired: nothing from the peer for %.1f s (%s)", self.lapse_s,
                 self.stats)
        compat.consent_check_ended(conn)
        self.on_expired()
