"""ICE consent freshness (RFC 7675) and the liveness counters of one peer connection.

This is the one module that reaches into aioice's and aiortc's private parts for liveness; the
versions it was written against are pinned (`PINNED`) and tests/media/test_peer_internals.py
fails loudly if the shapes it relies on change.

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

import aioice
import aioice.ice
import aioice.stun
import aiortc

from mirp.media.sdp import LOOPBACK

log = logging.getLogger(__name__)

# the versions whose internals this module was written against (pyproject pins them too)
PINNED = {"aioice": "0.13.0", "aiortc": "1.16.0"}
FROZEN_S = 1.0  # the loop this late on a wake-up: the server was frozen, the peer is not at fault

OnExpired = Callable[[], Any]


def internals_version_ok() -> bool:
    return aioice.__version__ == PINNED["aioice"] and aiortc.__version__ == PINNED["aiortc"]


@dataclass(slots=True)
class ConsentStats:
    """What the consent check saw; read by tests, logs and the operator's debugging."""

    checks_sent: int = 0
    responses: int = 0  # valid responses, each to any outstanding check
    slowest_response_s: float = 0.0
    peer_checks: int = 0  # the peer's own STUN checks, authenticated with our password
    media: int = 0  # SRTP/SRTCP from the peer that decrypted
    frozen_s: float = 0.0  # time the server's loop was frozen, not counted against the peer


class _Outstanding:
    """Sits in aioice's transaction table for one consent check until it is answered or too old.
    aioice calls `response_received` for any STUN response with this transaction id."""

    __slots__ = ("addr", "key", "liveness", "protocol", "sent_at", "tid")

    def __init__(self, liveness: PeerLiveness, protocol: Any, tid: bytes,
                 addr: tuple[str, int], key: bytes, sent_at: float) -> None:
        self.liveness, self.protocol, self.tid = liveness, protocol, tid
        self.addr, self.key, self.sent_at = addr, key, sent_at

    def response_received(self, message: aioice.stun.Message, addr: tuple[str, int]) -> None:
        # only a success response, signed with the peer's password, from where we sent the check
        # (RFC 7675 section 5.1); anything else leaves the check outstanding
        if message.message_class != aioice.stun.Class.RESPONSE or addr != self.addr:
            return
        if not message.check_message_integrity(self.key):
            return
        self.liveness._answered(self)


class PeerLiveness:
    """Hooks into one peer connection's ICE and DTLS transports: counts what the peer sends (for
    the silence watchdog) and runs consent freshness. Install once the remote description is set
    (the transports exist) and before the answer is created (ICE not started yet)."""

    def __init__(self, pc: Any, *, interval_s: float, lapse_s: float, loopback_only: bool,
                 on_expired: OnExpired) -> None:
        self.pc = pc
        self.interval_s = interval_s
        self.lapse_s = lapse_s
        self.loopback_only = loopback_only
        self.on_expired = on_expired
        self.stats = ConsentStats()
        self.stun_seen = 0  # every STUN request from the peer, authenticated or not
        self.consent_at: float | None = None  # loop time of the last sign of consent
        self._outstanding: dict[bytes, _Outstanding] = {}

    # installation ---------------------------------------------------------------------------

    def _transports(self) -> list[tuple[Any, Any]]:
        """(DTLS transport, aioice Connection) per transceiver."""
        out = []
        for t in self.pc.getTransceivers():
            dtls = t.receiver.transport
            out.append((dtls, dtls.transport._connection))
        return out

    def install(self) -> None:
        for dtls, conn in self._transports():
            self._hook_requests(conn)
            conn.query_consent = functools.partial(self._consent, conn)
            for name in ("_handle_rtp_data", "_handle_rtcp_data"):
                self._hook_media(dtls, name)

    def _hook_requests(self, conn: Any) -> None:
        original = conn.request_received

        def request_received(message: Any, addr: tuple[str, int], *rest: Any) -> None:
            if self.loopback_only and addr[0] != LOOPBACK:
                return  # connectivity checks from elsewhere are ignored in loopback-only mode
            self.stun_seen += 1
            password = conn.local_password
            if "USERNAME" in message.attributes and "MESSAGE-INTEGRITY" in message.attributes \
                    and password and message.check_message_integrity(password.encode("utf8")):
                self.stats.peer_checks += 1
                self._refresh()
            original(message, addr, *rest)

        conn.request_received = request_received

    def _hook_media(self, dtls: Any, name: str) -> None:
        original = getattr(dtls, name)

        async def handle(data: bytes, *args: Any, **kwargs: Any) -> None:
            # aiortc calls these only with packets that SRTP-unprotected: authenticated
            self.stats.media += 1
            self._refresh()
            await original(data, *args, **kwargs)

        setattr(dtls, name, handle)

    # counters -------------------------------------------------------------------------------

    def dtls_packets(self) -> int:
        """Datagrams through the DTLS transports (DTLS, SRTP, SRTCP), before any check."""
        return sum(getattr(dtls, "_RTCDtlsTransport__rx_packets", 0)
                   for dtls, _conn in self._transports())

    def activity(self) -> int:
        """What the peer sent us so far (its STUN requests, answers to our consent checks,
        DTLS/SRTP datagrams): the silence watchdog's gauge."""
        return self.stun_seen + self.stats.responses + self.dtls_packets()

    def _refresh(self) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to refresh
            self.consent_at = asyncio.get_running_loop().time()

    def _answered(self, check: _Outstanding) -> None:
        self._forget(check)
        loop = asyncio.get_running_loop()
        self.stats.responses += 1
        self.stats.slowest_response_s = max(self.stats.slowest_response_s,
                                            loop.time() - check.sent_at)
        self._refresh()

    def _forget(self, check: _Outstanding) -> None:
        self._outstanding.pop(check.tid, None)
        if check.protocol.transactions.get(check.tid) is check:
            del check.protocol.transactions[check.tid]

    # consent freshness ----------------------------------------------------------------------

    def _send_checks(self, conn: Any, now: float) -> None:
        for check in [c for c in self._outstanding.values() if now - c.sent_at >= self.lapse_s]:
            self._forget(check)  # too old to matter: consent would have lapsed anyway
        if conn.remote_password is None:
            return
        key = conn.remote_password.encode("utf8")
        for pair in list(conn._nominated.values()):
            request = conn.build_request(pair, nominate=False)
            request.add_message_integrity(key)
            check = _Outstanding(self, pair.protocol, request.transaction_id,
                                 pair.remote_addr, key, now)
            pair.protocol.transactions[check.tid] = check
            self._outstanding[check.tid] = check
            pair.protocol.send_stun(request, pair.remote_addr)
            self.stats.checks_sent += 1

    async def _consent(self, conn: Any) -> None:
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
        conn._query_consent_task = None  # as aioice does: its close() must not await us
        self.on_expired()
