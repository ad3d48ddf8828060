"""PeerWatch: one Peer's supervision, apart from its negotiation (media/peer.py).

A Peer answers offers and takes candidates; its watch decides, on its own clock, whether that
peer may go on: it holds the Peer's admission slot (media/admission.py) while the handshake moves,
and tells the Peer it is gone when the handshake never ends or the peer falls silent.

- Admission in bounded batches: hundreds of handshakes at once stall the event loop for minutes,
  while batches of 100 connected 600 peers in 4.5 s. A slot guards the costly part, from the
  offer to `connected`, and only while the handshake moves: one whose stage (the peer's first
  STUN check, ICE state, first DTLS datagram, connection state) stays put for
  `handshake_stall_s` gives its slot back and goes on without it until `handshake_timeout_s`.
  So offers whose clients never do ICE cannot starve anyone: they hold the slots a few seconds.
- A peer that vanishes without a BYE: consent needs 30 s to lapse. The watchdog looks at what the
  peer sends us (RTP/RTCP/DTLS datagrams, STUN checks, answers to our consent checks; browsers
  send RTCP every second while they receive, checks every ~5 s) and declares the peer gone after
  `peer_timeout_s` of silence. It needs media/consent.py's counters: when the compat self-check
  turned `consent` off, there is no silence watchdog (aioice's own consent check ends the peer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiortc import RTCPeerConnection

from mirp.errors import Conflict
from mirp.media.admission import AdmissionGate, Ticket
from mirp.media.consent import PeerLiveness

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WatchLimits:
    peer_timeout_s: float = 8.0  # silence after which a connected peer is gone
    handshake_timeout_s: float = 20.0  # offer to `connected`, at most
    handshake_stall_s: float = 3.0  # a handshake stuck this long gives its admission slot back


class PeerWatch:
    """Admission slot, handshake progress and silence of one Peer; `on_gone(reason)` once."""

    def __init__(self, peer_id: str, pc: RTCPeerConnection, liveness: PeerLiveness,
                 gate: AdmissionGate, limits: WatchLimits, on_gone: Callable[[str], None]
                 ) -> None:
        self.peer_id = peer_id
        self.pc = pc
        self.liveness = liveness
        self.gate = gate
        self.limits = limits
        self.on_gone = on_gone
        self.stalled = False  # the handshake made no progress for handshake_stall_s
        self.connected = asyncio.Event()
        self._ticket: Ticket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def admission_state(self) -> str:
        """"queued", "holding" (a slot), or "done" (gave it back, or never asked)."""
        return "done" if self._ticket is None else self._ticket.state

    @property
    def queue_position(self) -> int | None:
        return None if self._ticket is None else self.gate.position(self._ticket)

    async def admit(self, ended: Callable[[], bool]) -> None:
        """Wait for a slot in arrival order; Conflict if the peer `ended()` while it waited."""
        self._ticket = ticket = self.gate.enter()
        try:
            await ticket.wait()
        except asyncio.CancelledError:
            self.release()
            if ended():
                raise Conflict("the peer connection was replaced while it waited") from None
            raise
        if ended():
            self.release()
            raise Conflict("the peer connection was replaced while it waited")

    def release(self) -> None:
        """Give the admission slot back (or leave the queue); idempotent."""
        if self._ticket is not None:
            self.gate.leave(self._ticket)

    def on_connected(self) -> None:
        self.connected.set()
        self.release()

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._watch())

    def stop(self) -> None:
        self.release()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    def _progress(self) -> tuple[bool, str, bool, str]:
        """The handshake's stage: each part changes a few times at most, so a peer cannot fake
        progress forever by sending something now and then."""
        return (self.liveness.stun_seen > 0, str(self.pc.iceConnectionState),
                self.liveness.dtls_packets() > 0, str(self.pc.connectionState))

    async def _handshake(self) -> bool:
        """Until connected (True) or `handshake_timeout_s` (False). A handshake whose stage does
        not move for `handshake_stall_s` gives its admission slot back and goes on without one."""
        limits = self.limits
        step = min(0.25, limits.handshake_stall_s / 4)
        start = moved = time.monotonic()
        stage = self._progress()
        while not self.connected.is_set():
            await asyncio.sleep(step)
            now = time.monotonic()
            if self._progress() != stage:
                stage, moved = self._progress(), now
            elif self.admission_state == "holding" and now - moved >= limits.handshake_stall_s:
                self.stalled = True
                log.info("peer %s: handshake stalled at %s: slot given back", self.peer_id, stage)
                self.release()
            if now - start >= limits.handshake_timeout_s:
                return False
        return True

    async def _watch(self) -> None:
        """Declare the peer gone on a handshake that never ends or `peer_timeout_s` of silence.
        (Consent freshness, which needs answers rather than any traffic, is media/consent.py.)"""
        timeout = self.limits.peer_timeout_s
        step = min(1.0, timeout / 4)
        try:
            if not await self._handshake():
                self.on_gone("handshake timeout")
                return
            if not self.liveness.installed:
                return  # no counters to watch: aioice's consent check ends a silent peer
            last, last_change = self.liveness.activity(), time.monotonic()
            while True:
                await asyncio.sleep(step)
                now, seen = time.monotonic(), self.liveness.activity()
                if seen != last:
                    last, last_change = seen, now
                elif now - last_change >= timeout:
                    self.on_gone("timeout")
                    return
        except asyncio.CancelledError:
            pass
