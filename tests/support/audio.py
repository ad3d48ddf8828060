"""Test audio: sine tones in, FFT checks out. Shared by every area's media tests.

All helpers work on float32 mono samples in [-1, 1] at 48 kHz unless told otherwise. Levels are
dBFS where a full-scale sine (amplitude 1.0) reads 0 dBFS in `level_db_at` and -3.01 dB in `rms_db`
(the usual RMS convention). Assert with tolerances (±15 Hz for a peak, a few dB for levels):
Opus is lossy and the receive path adds fades at the start.

Examples::

    x = tone(440, 1.0, -12)            # 1 s of 440 Hz at -12 dBFS (peak)
    assert abs(peak_hz(x) - 440) < 15
    assert abs(level_db_at(x, 440) - -12) < 1
    assert level_db_at(x, 660) < -60   # nothing at 660 Hz
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

RATE = 48_000
FRAME = 960  # 20 ms at 48 kHz: one Opus packet


def tone(freq: float, seconds: float, dbfs: float = -12.0, rate: int = RATE,
         phase: float = 0.0) -> np.ndarray:
    """A sine of `freq` Hz whose peak amplitude is `dbfs` (float32, mono)."""
    n = round(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    amp = 10.0 ** (dbfs / 20.0)
    out: np.ndarray = (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)
    return out


def to_s16(samples: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> int16 (clipped), the layout av.AudioFrame(format="s16") wants."""
    out: np.ndarray = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    return out


def from_s16(samples: np.ndarray) -> np.ndarray:
    """int16 -> float32 in [-1, 1]."""
    return (samples.astype(np.float32) / 32768.0).astype(np.float32)


def _spectrum(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError("mono samples expected")
    if len(x) < 64:
        raise ValueError(f"too few samples for an FFT: {len(x)}")
    window = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x * window))
    # scale so that a sine of amplitude A reads A at its bin (Hann coherent gain = 0.5)
    spec *= 2.0 / window.sum()
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
    return freqs, spec


def peak_hz(samples: np.ndarray, rate: int = RATE, min_hz: float = 20.0) -> float:
    """Frequency of the strongest FFT bin above `min_hz` (Hann window; resolution rate/len)."""
    freqs, spec = _spectrum(samples, rate)
    spec = np.where(freqs >= min_hz, spec, 0.0)
    return float(freqs[int(np.argmax(spec))])


def level_db_at(samples: np.ndarray, hz: float, rate: int = RATE, width_hz: float = 10.0) -> float:
    """Peak level (dBFS of a sine's amplitude) around `hz`: max bin within ±width_hz.

    A tone of amplitude A at `hz` reads 20·log10(A) (±0.5 dB with ≥ 0.1 s of audio); silence or
    another frequency reads very low (< -60 dB for a clean signal).
    """
    freqs, spec = _spectrum(samples, rate)
    band = (freqs >= hz - width_hz) & (freqs <= hz + width_hz)
    if not band.any():
        raise ValueError(f"{hz} Hz is outside the spectrum")
    return float(20.0 * np.log10(max(float(spec[band].max()), 1e-12)))


def rms_db(samples: np.ndarray) -> float:
    """RMS level in dBFS (a full-scale sine reads -3.01 dB; silence reads -240)."""
    x = np.asarray(samples, dtype=np.float64)
    if len(x) == 0:
        return -240.0
    return float(20.0 * np.log10(max(float(np.sqrt(np.mean(x * x))), 1e-12)))


def opus_packets(samples: np.ndarray, bitrate: int = 48_000) -> list[bytes]:
    """Encode mono float samples into 20 ms Opus packets (what the engine's encoder produces).

    Trailing samples short of a whole 20 ms frame are dropped. Encoder delay (~6.5 ms) is kept,
    as in a live stream.
    """
    import av  # local: most users of this module only need numpy

    codec: Any = av.CodecContext.create("libopus", "w")
    codec.sample_rate = RATE
    codec.layout = "mono"
    codec.format = "s16"
    codec.bit_rate = bitrate
    codec.time_base = Fraction(1, RATE)
    pcm = to_s16(samples)
    out: list[bytes] = []
    for i in range(0, len(pcm) - FRAME + 1, FRAME):
        frame = av.AudioFrame.from_ndarray(pcm[i:i + FRAME].reshape(1, -1), format="s16",
                                           layout="mono")
        frame.sample_rate = RATE
        frame.pts = i
        frame.time_base = Fraction(1, RATE)
        out.extend(bytes(p) for p in codec.encode(frame))
    return out
