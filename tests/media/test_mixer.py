"""Mixer math: gains, mix-minus, levels and the limiter (pure numpy, no loop, no network)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mirp.media.mixer import FRAME_SAMPLES, Limiter, level_dbfs, mix
from mirp.media.plan import FeedKey, db_to_gain
from tests.support.audio import level_db_at, peak_hz, tone


def frames_of(signal: np.ndarray) -> list[np.ndarray]:
    return [signal[i:i + FRAME_SAMPLES] for i in range(0, len(signal), FRAME_SAMPLES)]


@pytest.mark.parametrize("gain_db", [0.0, -6.0, -12.0, -20.0])
def test_gain_in_db(gain_db: float) -> None:
    a = tone(440, 0.2, -6.0)
    out = np.concatenate([mix((("a", db_to_gain(gain_db)),), {"a": f}) for f in frames_of(a)])
    assert out.dtype == np.float32
    assert abs(level_db_at(out, 440) - (-6.0 + gain_db)) < 0.5


def test_sum_of_two_sources_each_at_its_gain() -> None:
    a, b = tone(440, 0.2, -6.0), tone(1000, 0.2, -6.0)
    recipe = (("a", 1.0), ("b", db_to_gain(-14.0)))
    out = np.concatenate([mix(recipe, {"a": fa, "b": fb})
                          for fa, fb in zip(frames_of(a), frames_of(b), strict=True)])
    assert abs(level_db_at(out, 440) - -6.0) < 0.5
    assert abs(level_db_at(out, 1000) - -20.0) < 0.5


def test_mix_minus_leaves_the_listener_out_even_if_the_recipe_names_them() -> None:
    a, b = tone(440, 0.2, -6.0), tone(1000, 0.2, -6.0)
    key = FeedKey("floor", minus="a")
    recipe = (("a", 1.0), ("b", 1.0))
    out = np.concatenate([mix(recipe, {"a": fa, "b": fb}, key.minus)
                          for fa, fb in zip(frames_of(a), frames_of(b), strict=True)])
    assert abs(peak_hz(out) - 1000) < 15
    assert level_db_at(out, 440) < -80
    # without the minus, both are there
    both = mix(recipe, {"a": frames_of(a)[0], "b": frames_of(b)[0]})
    assert float(np.max(np.abs(both))) > 0.6


def test_missing_source_contributes_nothing() -> None:
    out = mix((("gone", 1.0), ("zero", 0.0)), {"zero": np.ones(FRAME_SAMPLES, np.float32)})
    assert not out.any()


def test_level_dbfs() -> None:
    assert abs(level_dbfs(tone(440, 0.02, 0.0)) - -3.01) < 0.1
    assert abs(level_dbfs(tone(440, 0.02, -20.0)) - -23.01) < 0.1
    assert level_dbfs(np.zeros(FRAME_SAMPLES, np.float32)) == -100.0


def test_limiter_leaves_quiet_speech_untouched() -> None:
    lim = Limiter()
    x = tone(300, 0.2, -10.0)
    out = np.concatenate([lim.process(f.copy()) for f in frames_of(x)])
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_limiter_holds_eight_loud_sources_under_the_ceiling() -> None:
    lim = Limiter(ceiling_db=-1.0)
    ceiling = 10 ** (-1.0 / 20)
    rng = np.random.default_rng(1)
    # eight people talking at once: tones at -3 dBFS with random phases, plus bursts of noise
    sources = {f"s{i}": tone(200 + 97 * i, 1.0, -3.0, phase=float(rng.uniform(0, 6.28)))
               + (rng.standard_normal(48_000) * 0.2).astype(np.float32) for i in range(8)}
    recipe = tuple((sid, 1.0) for sid in sources)
    raw_peak = 0.0
    out_peak = 0.0
    outs = []
    for i in range(0, 48_000, FRAME_SAMPLES):
        frames = {sid: s[i:i + FRAME_SAMPLES] for sid, s in sources.items()}
        summed = mix(recipe, frames)
        raw_peak = max(raw_peak, float(np.max(np.abs(summed))))
        out = lim.process(summed)
        out_peak = max(out_peak, float(np.max(np.abs(out))))
        outs.append(out)
    assert raw_peak > 4.0  # the sum really would clip
    assert out_peak <= ceiling + 1e-6
    assert out_peak > ceiling - 0.2  # limited, not muted
    assert lim.gain_db < -10


def test_limiter_releases_smoothly_after_a_burst() -> None:
    lim = Limiter(release_ms=80.0)
    loud = tone(440, 0.1, 12.0)  # 4x full scale
    quiet = tone(440, 1.0, -12.0)
    for f in frames_of(loud):
        lim.process(f.copy())
    assert lim.gain_db < -12
    outs = [lim.process(f.copy()) for f in frames_of(quiet)]
    gains = []
    for f_in, f_out in zip(frames_of(quiet), outs, strict=True):
        gains.append(float(np.max(np.abs(f_out)) / np.max(np.abs(f_in))))
    # gain rises monotonically back to unity, without a jump bigger than a few dB per 20 ms
    assert all(b >= a - 1e-3 for a, b in itertools.pairwise(gains))
    steps_db = np.diff(20 * np.log10(np.maximum(gains, 1e-6)))
    assert float(np.max(steps_db)) < 4.0
    assert gains[-1] > 0.99
    # and there are no sample-level discontinuities: the output stays a clean 440 Hz tone
    out = np.concatenate(outs)
    assert abs(peak_hz(out) - 440) < 15
