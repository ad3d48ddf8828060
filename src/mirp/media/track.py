"""FeedTrack: the server's outbound audio track on one listener's RTCRtpSender.

Why a track of our own: aiortc's sender runs a task that awaits `track.recv()` forever and sends
whatever comes back. The fan-out (media/fanout.py) has two ways to use that sender:

- fast path (default): the fan-out writes RTP for this sender itself (one loop over all
  listeners), so the sender's own task must stay idle. `recv()` therefore waits until a packet
  is pushed, and nothing is ever pushed: the task sleeps on one future at zero cost until the
  track is stopped. A track stopped while its sender still needs it stalls that sender for
  good, so only the Peer's close stops it: that is how the Peer ends the idle wait, and
  `recv()` then raises MediaStreamError, which the sender treats as a clean end.
- public-API path (fallback): the fan-out pushes the tick's shared `av.Packet` here and aiortc's
  sender packs it without re-encoding (`RTCRtpSender._next_encoded_frame` → `encoder.pack`).
  The queue is bounded (drop-oldest): a late packet of live speech is worth nothing.

`binding` carries what the fast path needs to write RTP for this sender that is only known once
the offer is negotiated (payload type, the mid header extension): the Peer fills it in.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack


@dataclass(frozen=True, slots=True)
class RtpBinding:
    """The negotiated RTP parameters of one sender, as the fast path needs them.

    payload_type: Opus's payload type in this session (the browser picks it, often 111).
    extension: the RTP header-extension block (profile, length, elements) to put after the fixed
    12-byte header, b"" for none; it only carries the constant `mid`, so it is built once.
    """

    payload_type: int
    mid: str | None = None
    extension: bytes = b""


class FeedTrack(MediaStreamTrack):
    """One listener's audio track; idle unless the public-API fan-out pushes packets into it."""

    kind = "audio"

    def __init__(self, depth: int = 2) -> None:
        super().__init__()
        self.binding: RtpBinding | None = None
        self.dropped = 0  # packets pushed out of a full queue (the sender fell behind)
        self._queue: deque[av.Packet[Any]] = deque()
        self._depth = max(1, depth)
        self._waiter: asyncio.Future[None] | None = None

    def push(self, packet: av.Packet[Any]) -> None:
        """Hand one encoded packet to aiortc's sender (public-API path). Never blocks."""
        if self.readyState != "live":
            return
        if len(self._queue) >= self._depth:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(packet)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def recv(self) -> av.Packet[Any]:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    def stop(self) -> None:
        """End the track: wakes the sender's pending recv(), which then ends cleanly."""
        super().stop()
        self._queue.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
