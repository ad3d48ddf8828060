"""Utterances out of a feed's 20 ms frames, by energy: faster-whisper does not stream, so each
utterance is decoded once, when it ends.

Energy is enough here: a channel carries one voice at a time through a close microphone, and the
engine's mix of an idle channel is digital silence. A frame is voiced above `threshold_dbfs`;
an utterance opens after `open_frames` voiced frames (with `pre_roll` frames before them, so
the first consonant is kept), closes after `hang_ms` unvoiced, and is cut at `max_s` (a long
speech still gets captions every few seconds). Shorter than `min_voiced_ms` of voice: a cough
or a click, dropped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

RATE = 16000  # what Whisper takes
FRAME = RATE // 50  # 20 ms

Audio = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Utterance:
    audio: Audio  # mono float32 at 16 kHz
    start: float  # wall-clock seconds (time.time()) of its first frame's arrival
    end: float  # ... of its last voiced frame


@dataclass(slots=True)
class Segmenter:
    threshold_dbfs: float = -45.0
    hang_ms: int = 600
    max_s: float = 12.0
    min_voiced_ms: int = 250
    open_frames: int = 3
    pre_roll: int = 10
    _frames: list[Audio] = field(default_factory=list)
    _before: deque[tuple[Audio, float]] = field(default_factory=deque)
    _run: int = 0  # consecutive voiced frames while closed
    _quiet: int = 0  # consecutive unvoiced frames while open
    _voiced: int = 0
    _start: float = 0.0
    _last_voiced: float = 0.0

    @property
    def open(self) -> bool:
        return bool(self._frames)

    def push(self, frame: Audio, at: float) -> Utterance | None:
        """One 20 ms frame (16 kHz mono float32) that arrived at `at`; an utterance when one
        ends with it."""
        rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64)))) if frame.size else 0.0
        voiced = rms > 0 and 20.0 * np.log10(rms) > self.threshold_dbfs
        if not self._frames:
            self._before.append((frame, at))
            while len(self._before) > self.pre_roll + self.open_frames:
                self._before.popleft()
            self._run = self._run + 1 if voiced else 0
            if self._run >= self.open_frames:
                self._frames = [f for f, _ in self._before]
                self._start = self._before[0][1]
                self._voiced, self._quiet, self._last_voiced = self._run, 0, at
                self._before.clear()
            return None
        self._frames.append(frame)
        if voiced:
            self._voiced += 1
            self._quiet = 0
            self._last_voiced = at
        else:
            self._quiet += 1
        if self._quiet * 20 >= self.hang_ms or len(self._frames) * 0.02 >= self.max_s:
            return self.flush()
        return None

    def flush(self) -> Utterance | None:
        """Close the open utterance now (the feed stopped); None when it was too short."""
        frames, voiced = self._frames, self._voiced
        self._frames, self._voiced, self._quiet, self._run = [], 0, 0, 0
        if not frames or voiced * 20 < self.min_voiced_ms:
            return None
        audio = np.concatenate(frames).astype(np.float32, copy=False)
        return Utterance(audio, self._start, self._last_voiced)
