"""Opus encoder: a tone survives the round trip; one encoder per key in use, dropped after grace."""

from __future__ import annotations

import av
import numpy as np
import pytest

from mirp.media.encoder import EncoderPool, OpusEncoder
from mirp.media.mixer import FRAME_SAMPLES
from mirp.media.plan import FeedKey
from mirp.media.source import OpusDecoder
from tests.support.audio import level_db_at, peak_hz, tone


def decode_all(payloads: list[bytes]) -> np.ndarray:
    """Decode with a plain av decoder (stereo, s16: what aiortc's receiver does)."""
    ctx = av.CodecContext.create("libopus", "r")
    ctx.sample_rate = 48_000
    ctx.layout = "stereo"
    out = []
    for p in payloads:
        for frame in ctx.decode(av.Packet(p)):
            arr = frame.to_ndarray()
            if frame.format.is_planar:
                out.append(arr[0].astype(np.float32))
            else:
                out.append(arr.reshape(-1, 2)[:, 0].astype(np.float32))
    data = np.concatenate(out)
    return data / 32768.0 if data.max() > 2.0 else data


@pytest.mark.parametrize("application", ["lowdelay", "voip"])
def test_tone_round_trip(application: str) -> None:
    enc = OpusEncoder(application=application)
    x = tone(440, 1.0, -12.0)
    payloads = [enc.encode(x[i:i + FRAME_SAMPLES]) for i in range(0, len(x), FRAME_SAMPLES)]
    assert len(payloads) == 50
    assert all(8 < len(p) < 400 for p in payloads)
    y = decode_all(payloads)
    assert len(y) == len(x)
    tail = y[len(y) // 4:]
    assert abs(peak_hz(tail) - 440) < 15
    assert abs(level_db_at(tail, 440) - -12.0) < 2.0


def test_our_decoder_reads_our_encoder() -> None:
    enc, dec = OpusEncoder(), OpusDecoder()
    x = tone(1000, 0.5, -6.0)
    y = np.concatenate([dec.decode(enc.encode(x[i:i + FRAME_SAMPLES]))
                        for i in range(0, len(x), FRAME_SAMPLES)])
    assert y.dtype == np.float32 and len(y) == len(x)
    assert abs(peak_hz(y[4800:]) - 1000) < 15


def test_wrong_frame_shape_is_refused() -> None:
    with pytest.raises(ValueError):
        OpusEncoder().encode(np.zeros(480, np.float32))


def test_pool_one_encoder_per_key_and_grace() -> None:
    pool = EncoderPool(grace_ticks=5)
    a, b = FeedKey("floor"), FeedKey("fr", -12)
    silence = np.zeros(FRAME_SAMPLES, np.float32)
    for tick in range(10):
        assert pool.encode(a, silence, tick)
        assert pool.encode(b, silence, tick)
        pool.sweep({a, b}, tick)
    assert len(pool) == 2 and pool.created == 2
    for tick in range(10, 20):  # b goes out of use
        pool.encode(a, silence, tick)
        pool.sweep({a}, tick)
    assert pool.keys() == {a}
    assert pool.created == 2


def test_pool_drops_a_failing_encoder_and_recovers() -> None:
    pool = EncoderPool()
    key = FeedKey("floor")
    assert pool.encode(key, np.zeros(FRAME_SAMPLES, np.float32), 0)
    assert pool.encode(key, np.zeros(FRAME_SAMPLES + 1, np.float32), 1) is None
    assert pool.failed == 1 and len(pool) == 0
    assert pool.encode(key, np.zeros(FRAME_SAMPLES, np.float32), 2)
    assert pool.created == 2
