"""Reading back what the webcast wrote: HLS renditions and Ogg recordings, decoded with PyAV."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np


def decode(data: bytes) -> np.ndarray:
    """Every sample of the first audio stream of a file (mono float32, 48 kHz)."""
    out = []
    with av.open(io.BytesIO(data), mode="r") as container:
        for frame in container.decode(audio=0):
            arr = frame.to_ndarray()
            out.append((arr[0] if frame.format.is_planar else arr.reshape(-1)).astype(np.float32))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def playlist_segments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def rendition(directory: Path) -> tuple[list[str], bytes]:
    """The segment names of a rendition's playlist, and init + those segments as one file."""
    names = playlist_segments((directory / "index.m3u8").read_text())
    data = (directory / "init.mp4").read_bytes() + b"".join(
        (directory / n).read_bytes() for n in names)
    return names, data
