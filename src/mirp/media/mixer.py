"""Pure numpy mixing: one 20 ms frame per FeedKey from the sources' frames of this tick.

No asyncio, no av, no I/O: given the frames and the recipe, it returns samples. Every feed passes
through its own `Limiter`, because a floor with eight people talking at once must not clip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from mirp.media.plan import Ingredient

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz
SILENCE_DBFS = -100.0

Frame = npt.NDArray[np.float32]  # mono, FRAME_SAMPLES samples, full scale = 1.0


def silence() -> Frame:
    return np.zeros(FRAME_SAMPLES, dtype=np.float32)


def mix(
    recipe: tuple[Ingredient, ...], frames: Mapping[str, Frame], minus: str | None = None
) -> Frame:
    """Sum of frame x gain over the recipe, in float32.

    A source without a frame this tick (parked, silent, concealed to nothing) contributes nothing.
    `minus` is left out even if the recipe names it: the rooms layer decides who hears what, but
    a mix-minus feed must never carry its own listener's voice back to them.
    """
    out = np.zeros(FRAME_SAMPLES, dtype=np.float32)
    for source_id, gain in recipe:
        if source_id == minus or gain == 0.0:
            continue
        frame = frames.get(source_id)
        if frame is None:
            continue
        if gain == 1.0:
            out += frame
        else:
            out += frame * np.float32(gain)
    return out


def level_dbfs(frame: Frame) -> float:
    """RMS level of a frame in dBFS (a full-scale sine reads -3 dBFS), floored at -100."""
    if frame.size == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64))))
    if rms <= 1e-5:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms))


class Limiter:
    """Look-ahead-free peak limiter with a soft knee and a smooth release, one per feed.

    The frame is cut into 1 ms blocks; each block's peak goes through a soft-knee gain computer
    (infinite ratio, knee `knee_db` wide, centred on the ceiling), so quiet speech passes untouched
    and a loud sum is held at or under the ceiling. Attack is instant at a block boundary (no
    look-ahead, so no added latency); release rises back towards unity exponentially with
    `release_ms`, block by block, and is ramped sample by sample, so gain rides up without steps.
    A final clip at the ceiling is a guard only: the gain computer already keeps peaks under it.
    """

    BLOCK = 48  # 1 ms

    def __init__(
        self, ceiling_db: float = -1.0, knee_db: float = 6.0, release_ms: float = 80.0
    ) -> None:
        self.ceiling_db = ceiling_db
        self.knee_db = knee_db
        self.ceiling = float(10.0 ** (ceiling_db / 20.0))
        self._knee_start = float(10.0 ** ((ceiling_db - knee_db / 2.0) / 20.0))
        self._release = 1.0 - math.exp(-(self.BLOCK / SAMPLE_RATE) / (release_ms / 1000.0))
        self._gain = 1.0  # gain at the end of the previous frame
        self._ramp = np.linspace(0.0, 1.0, self.BLOCK + 1, dtype=np.float32)[1:]

    @property
    def gain_db(self) -> float:
        return 20.0 * math.log10(max(self._gain, 1e-9))

    def _targets(self, peaks: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Gain each block needs: soft knee of width W around the ceiling C, ratio infinite."""
        level = 20.0 * np.log10(np.maximum(peaks, 1e-9))
        c, w = self.ceiling_db, self.knee_db
        over = level - (c - w / 2.0)
        out_level = np.where(
            over <= 0.0,
            level,
            np.where(level >= c + w / 2.0, c, level - np.square(over) / (2.0 * w)),
        )
        # numerical guard: the knee's top meets the ceiling exactly; never let it exceed it
        out_level = np.minimum(out_level, c)
        return np.asarray(np.minimum(1.0, 10.0 ** ((out_level - level) / 20.0)))

    def process(self, frame: Frame) -> Frame:
        n = frame.size
        if n % self.BLOCK:
            raise ValueError(f"frame of {n} samples is not a multiple of {self.BLOCK}")
        if self._gain >= 1.0 and float(np.max(np.abs(frame), initial=0.0)) <= self._knee_start:
            return frame  # the common case, below the knee at unity gain: nothing to do
        blocks = frame.reshape(-1, self.BLOCK)
        peaks = np.abs(blocks).max(axis=1).astype(np.float64)
        targets = self._targets(peaks)
        gains = np.empty(blocks.shape[0], dtype=np.float64)
        g = self._gain
        for i, target in enumerate(targets.tolist()):
            g = min(target, g + (1.0 - g) * self._release)
            gains[i] = g
        prev = np.concatenate(([self._gain], gains[:-1]))
        # rising gain (release): ramp from the previous block's gain, never above this block's;
        # falling gain (attack): take the new gain for the whole block, so its peak is held
        start = np.where(gains >= prev, prev, gains).astype(np.float32)
        end = gains.astype(np.float32)
        curve = start[:, None] + (end - start)[:, None] * self._ramp[None, :]
        self._gain = g
        out = (blocks * curve).reshape(n)
        np.clip(out, -self.ceiling, self.ceiling, out=out)
        return out.astype(np.float32, copy=False)
