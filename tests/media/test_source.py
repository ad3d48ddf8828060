"""Sources without a network: the lean jitter buffer, concealment, the PCM path, levels."""

from __future__ import annotations

import asyncio

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from mirp.media.encoder import OpusEncoder
from mirp.media.engine import MediaEngine
from mirp.media.mixer import FRAME_SAMPLES
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.source import LeanJitterBuffer, Source
from tests.media.fake_fanout import FakeFanout
from tests.media.test_encoder import decode_all
from tests.support.audio import peak_hz, to_s16, tone
from tests.support.wait import Seen, until


def p(i: int) -> bytes:
    return f"pkt{i}".encode()


def test_in_order_stream_plays_with_one_packet_of_delay() -> None:
    jb = LeanJitterBuffer()
    out = []
    for i in range(100):
        jb.put(1000 + i, p(i))
        out.append(jb.take())
    assert out == [p(i) for i in range(100)]
    assert (jb.lost, jb.late, jb.underruns, jb.target) == (0, 0, 0, 1)


def test_a_lost_packet_is_concealed_and_skipped() -> None:
    jb = LeanJitterBuffer()
    out = []
    for i in range(10):
        if i != 4:
            jb.put(i, p(i))
        if i != 4:  # the tick after the gap finds 5 waiting, 4 missing
            out.append(jb.take())
    assert out[:4] == [p(0), p(1), p(2), p(3)]
    assert out[4] is None and jb.lost == 1
    assert out[5:] == [p(5), p(6), p(7), p(8)]
    assert jb.take() == p(9)


def test_reordered_packets_play_in_order() -> None:
    jb = LeanJitterBuffer(min_depth=2)
    for seq in (0, 2, 1, 3, 5, 4):
        jb.put(seq, p(seq))
    assert [jb.take() for _ in range(6)] == [p(i) for i in range(6)]


def test_jitter_grows_the_target_and_calm_shrinks_it() -> None:
    jb = LeanJitterBuffer()
    seq = 0
    for _ in range(20):  # a packet arrives one tick late, every 10 ticks
        jb.put(seq, p(seq))
        jb.take()
        seq += 1
    assert jb.take() is None  # underrun: 20 has not arrived yet
    jb.put(seq, p(seq))  # ...and arrives just after: jitter
    assert jb.target == 2
    # a steady stream for > 10 s brings the target back down and trims the queue
    for _ in range(700):
        seq += 1
        jb.put(seq, p(seq))
        jb.take()
    assert jb.target == 1
    assert jb.depth <= 2
    assert jb.trimmed >= 1


def test_late_packet_is_dropped_and_counted() -> None:
    jb = LeanJitterBuffer()
    jb.put(0, p(0))
    jb.put(2, p(2))
    jb.put(3, p(3))
    assert jb.take() == p(0)
    assert jb.take() is None  # 1 is lost
    jb.put(1, p(1))  # too late
    assert jb.late == 1 and jb.target == 2
    assert jb.take() == p(2)


def test_sequence_wraps_around() -> None:
    jb = LeanJitterBuffer()
    out = []
    for i in range(10):
        seq = (65530 + i) & 0xFFFF
        jb.put(seq, p(i))
        out.append(jb.take())
    assert out == [p(i) for i in range(10)]
    assert jb.lost == 0


def test_a_sender_restart_resyncs_without_a_storm_of_losses() -> None:
    jb = LeanJitterBuffer()
    for i in range(5):
        jb.put(i, p(i))
        jb.take()
    for i in range(5):
        jb.put(30_000 + i, p(100 + i))
    assert jb.take() == p(100)
    assert jb.lost == 0


def test_capacity_bounds_the_queue() -> None:
    jb = LeanJitterBuffer(capacity=16)
    for i in range(100):
        jb.put(i, p(i))
    assert jb.depth == 16 and jb.overflows == 84
    assert jb.take() == p(84)


def test_source_decodes_and_conceals_gaps() -> None:
    src = Source("s")
    src.set_active(True)
    enc = OpusEncoder()
    x = tone(440, 1.0, -12.0)
    out = []
    for i in range(50):
        payload = enc.encode(x[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES])
        if i not in (30, 31, 32):
            src.feed_rtp(i, payload)
        frame = src.pull()
        out.append(frame)
    assert all(f is not None and f.shape == (FRAME_SAMPLES,) for f in out[:30])
    # first missing tick: a mirrored, fading frame; then silence (None)
    assert out[30] is not None and abs(float(out[30][-1])) < 1e-3
    assert out[31] is None
    assert src.concealed == 1
    y = np.concatenate([f for f in out[5:30] if f is not None])
    assert abs(peak_hz(y) - 440) < 15


def test_source_pcm_path_chunks_any_length_and_is_bounded() -> None:
    src = Source("s", max_backlog_frames=3)
    src.set_active(True)
    src.feed_pcm(np.full(500, 0.5, np.float32))
    assert src.pull() is None  # not a whole frame yet
    src.feed_pcm(np.full(500, 0.25, np.float32))
    f = src.pull()
    assert f is not None and f.shape == (FRAME_SAMPLES,)
    assert f[0] == 0.5 and f[-1] == 0.25
    src.feed_pcm((np.ones(10 * FRAME_SAMPLES) * 16384).astype(np.int16))  # 10 frames at once
    frames = [src.pull() for _ in range(5)]
    # only the newest 3 frames were kept (the 0.25 remainder went with the oldest)
    assert [f is not None and bool(np.all(f == 0.5)) for f in frames] == [
        True, True, True, False, False]
    assert frames[3] is not None  # concealment
    assert frames[4] is None


def test_parked_source_drops_everything_and_restarts_clean() -> None:
    src = Source("s")
    src.feed_rtp(1, b"x")
    src.feed_pcm(np.ones(FRAME_SAMPLES, np.float32))
    assert src.parked_drops == 2 and src.jitter.received == 0
    src.set_active(True)
    src.feed_pcm(np.ones(FRAME_SAMPLES, np.float32))
    src.set_active(False)
    src.set_active(True)
    assert src.pull() is None


def test_levels_in_dbfs() -> None:
    src = Source("s")
    src.set_active(True)
    x = tone(440, 0.2, -6.0)
    src.feed_pcm(x)
    for _ in range(10):
        src.pull()
    assert abs(src.take_level() - -9.01) < 0.2
    assert src.take_level() == -100.0


class _StockLikeTrack(MediaStreamTrack):
    """Yields what aiortc's stock receiver yields: s16 stereo packed, 960 samples, 48 kHz."""

    kind = "audio"

    def __init__(self, hz: float, frames: int) -> None:
        super().__init__()
        self._x = to_s16(tone(hz, frames * 0.02, -12.0))
        self._i = 0
        self._frames = frames

    async def recv(self) -> av.AudioFrame:
        if self._i >= self._frames:
            raise MediaStreamError
        await asyncio.sleep(0.02)  # paced like a real receiver: one frame per 20 ms
        mono = self._x[self._i * FRAME_SAMPLES:(self._i + 1) * FRAME_SAMPLES]
        stereo = np.repeat(mono, 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = 48_000
        self._i += 1
        return frame


async def test_a_receiver_without_the_tap_is_read_through_its_track() -> None:
    fan = FakeFanout()
    eng = MediaEngine(fan)
    key = FeedKey("floor")
    eng.apply(MixPlan.of({key: (("s", 1.0),)}))
    eng.add_listener("l", None, key)
    await eng.start()
    src = eng.add_source("s", object(), _StockLikeTrack(440, 75))  # a receiver without the tap
    assert not src.tapped
    # the track ends after 75 frames, and the engine then drops the source at its next tick
    await until(lambda: src.ended, "the track's end")
    await until(lambda: eng.stats().sources_dropped == 1 or Seen(eng.stats()), "source dropped")
    s = eng.stats()
    await eng.close()
    assert s.sources == 0 and s.sources_dropped == 1
    y = decode_all(fan.payloads(key))
    loud = np.flatnonzero(np.abs(y) > 0.05)
    assert len(loud) > 48_000 // 2, f"only {len(loud)} samples of tone arrived"
    assert abs(peak_hz(y[loud[0]:loud[-1]]) - 440) < 15


def test_garbage_payloads_do_not_break_a_source() -> None:
    src = Source("s")
    src.set_active(True)
    enc = OpusEncoder()
    x = tone(440, 0.4, -12.0)
    good = [enc.encode(x[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES]) for i in range(20)]
    out = []
    for seq, payload in enumerate([good[0], b"", b"\xff" * 900, bytes(range(256)), *good[1:]]):
        src.feed_rtp(seq, payload)
        frame = src.pull()
        assert frame is None or frame.shape == (FRAME_SAMPLES,)
        out.append(frame)
    assert src.jitter.played == 23 and src.decode_errors >= 1
    tail = [f for f in out[-12:] if f is not None]
    assert len(tail) == 12
    assert abs(peak_hz(np.concatenate(tail)) - 440) < 15
    # a decoder drained by some other way (EOF) is replaced, not left dead
    assert src._decoder is not None
    src._decoder._ctx.decode(None)
    for seq in range(23, 26):
        src.feed_rtp(seq, good[seq - 10])
        src.pull()
    for seq in range(26, 30):
        src.feed_rtp(seq, good[seq - 10])
        assert src.pull() is not None
