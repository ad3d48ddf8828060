"""One Opus encoder per FeedKey in use: the cost that scales with feeds, never with listeners.

Mono, 48 kHz, 20 ms frames: the Opus bitstream says its channel count in every packet, so a
browser's `opus/48000/2` decoder plays mono packets as is. Application `lowdelay` (CELT only):
measured here at about 105 µs per 20 ms frame against about 245 µs for `voip` (SILK/hybrid), and
its algorithmic delay is 4 ms shorter, which interpreters feel. At 40 kbit/s mono, CELT carries
speech (and the odd jingle on the floor) cleanly; what we give up is SILK's in-band FEC, which the
WebRTC path here does not negotiate anyway. See docs/media.md for the numbers.
"""

from __future__ import annotations

import fractions
import logging
from collections.abc import Iterable

import av
import numpy as np

from mirp.media.mixer import FRAME_SAMPLES, SAMPLE_RATE, Frame
from mirp.media.plan import FeedKey

log = logging.getLogger(__name__)

TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
DEFAULT_BITRATE = 40_000
DEFAULT_APPLICATION = "lowdelay"


class OpusEncoder:
    """A libopus encoder fed float32 mono frames of 960 samples; one packet out per frame."""

    def __init__(
        self, bitrate: int = DEFAULT_BITRATE, application: str = DEFAULT_APPLICATION
    ) -> None:
        ctx = av.CodecContext.create("libopus", "w")
        ctx.bit_rate = bitrate
        ctx.format = "flt"
        ctx.layout = "mono"
        ctx.sample_rate = SAMPLE_RATE
        ctx.time_base = TIME_BASE
        ctx.options = {"application": application, "frame_duration": "20"}
        self._ctx = ctx
        self._pts = 0
        self.frames = 0

    def encode(self, samples: Frame) -> bytes:
        """Encode one 20 ms frame; returns the Opus payload (libopus has no frame delay)."""
        if samples.shape != (FRAME_SAMPLES,):
            raise ValueError(f"expected {FRAME_SAMPLES} mono samples, got {samples.shape}")
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1),
            format="flt",
            layout="mono",
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += FRAME_SAMPLES
        packets = self._ctx.encode(frame)
        self.frames += 1
        if not packets:  # libopus emits one packet per 20 ms frame; guard against surprises
            return b""
        return b"".join(bytes(p) for p in packets)


class EncoderPool:
    """The encoders of the keys in use, created on first use, dropped after `grace` idle ticks.

    The grace keeps a key that blinks out of use and back (a listener switching away and back,
    a reconnect) from paying the encoder's setup and the decoder-side reset twice.
    """

    def __init__(
        self,
        grace_ticks: int = 50,
        bitrate: int = DEFAULT_BITRATE,
        application: str = DEFAULT_APPLICATION,
    ) -> None:
        self.grace_ticks = grace_ticks
        self.bitrate = bitrate
        self.application = application
        self._encoders: dict[FeedKey, OpusEncoder] = {}
        self._last_used: dict[FeedKey, int] = {}
        self.created = 0
        self.failed = 0

    def __len__(self) -> int:
        return len(self._encoders)

    def keys(self) -> frozenset[FeedKey]:
        return frozenset(self._encoders)

    def encode(self, key: FeedKey, samples: Frame, tick: int) -> bytes | None:
        """Encode the key's frame; on failure log, drop that encoder (a fresh one next tick)."""
        enc = self._encoders.get(key)
        if enc is None:
            enc = OpusEncoder(self.bitrate, self.application)
            self._encoders[key] = enc
            self.created += 1
        self._last_used[key] = tick
        try:
            return enc.encode(samples)
        except Exception:
            log.exception("encoder for feed %s failed; dropping it", key)
            self.failed += 1
            self.drop(key)
            return None

    def sweep(self, in_use: Iterable[FeedKey], tick: int) -> None:
        """Drop encoders whose key has been out of use for longer than the grace."""
        live = set(in_use)
        for key in list(self._encoders):
            if key not in live and tick - self._last_used.get(key, tick) > self.grace_ticks:
                self.drop(key)

    def drop(self, key: FeedKey) -> None:
        self._encoders.pop(key, None)
        self._last_used.pop(key, None)

    def close(self) -> None:
        self._encoders.clear()
        self._last_used.clear()
