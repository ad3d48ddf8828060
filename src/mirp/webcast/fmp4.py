"""A fragmented MP4 (CMAF) muxer for Opus packets: an init segment and media segments.

Why our own: the packets are already encoded (20 ms Opus, mono, 48 kHz) and only need boxes
around them; an ISO BMFF writer for one audio track is a few dozen boxes (ISO/IEC 14496-12, and
"Encapsulation of Opus in ISO Base Media File Format": the `Opus` sample entry and its `dOps`
box), with no codec library on the webcast thread. The timescale is the Opus clock (48 kHz), one
sample per packet, so a segment is a `moof` (`tfdt`: the first sample's time; `trun`: each
sample's duration and size) and an `mdat` of the packets back to back.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

TIMESCALE = 48_000
TRACK_ID = 1
_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + kind + body


def full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def _dops(channels: int, pre_skip: int) -> bytes:
    # big-endian, unlike the Ogg OpusHead; channel mapping family 0 (mono or stereo)
    return box(b"dOps", struct.pack(">BBHIhB", 0, channels, pre_skip, TIMESCALE, 0, 0))


def init_segment(channels: int = 1, pre_skip: int = 0) -> bytes:
    """ftyp + moov of one Opus audio track (no samples: they come in fragments)."""
    ftyp = box(b"ftyp", b"iso6", struct.pack(">I", 0), b"iso6", b"cmfc", b"mp41", b"Opus")
    mvhd = full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, TIMESCALE, 0),
                    struct.pack(">IH", 0x10000, 0x100), bytes(10), _MATRIX, bytes(24),
                    struct.pack(">I", TRACK_ID + 1))
    tkhd = full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, TRACK_ID, 0, 0), bytes(8),
                    struct.pack(">HHHH", 0, 0, 0x100, 0), _MATRIX, struct.pack(">II", 0, 0))
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, TIMESCALE, 0),
                    struct.pack(">HH", 0x55C4, 0))  # language "und"
    hdlr = full_box(b"hdlr", 0, 0, struct.pack(">I", 0), b"soun", bytes(12), b"mirp\0")
    sample_entry = box(b"Opus", bytes(6), struct.pack(">H", 1), bytes(8),
                       struct.pack(">HHHHI", channels, 16, 0, 0, TIMESCALE << 16),
                       _dops(channels, pre_skip))
    stbl = box(b"stbl", full_box(b"stsd", 0, 0, struct.pack(">I", 1), sample_entry),
               full_box(b"stts", 0, 0, struct.pack(">I", 0)),
               full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
               full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
               full_box(b"stco", 0, 0, struct.pack(">I", 0)))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    minf = box(b"minf", full_box(b"smhd", 0, 0, struct.pack(">HH", 0, 0)), dinf, stbl)
    trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
    mvex = box(b"mvex", full_box(b"trex", 0, 0, struct.pack(">IIIII", TRACK_ID, 1, 960, 0, 0)))
    return ftyp + box(b"moov", mvhd, trak, mvex)


def media_segment(sequence: int, base_time: int, samples: Sequence[tuple[int, bytes]]) -> bytes:
    """styp + moof + mdat of `samples` ((duration in 1/48000 s, Opus packet), ...), the first
    one decoded at `base_time`; `sequence` counts fragments from 1."""
    if not samples:
        raise ValueError("a fragment needs at least one sample")
    styp = box(b"styp", b"msdh", struct.pack(">I", 0), b"msdh", b"msix")
    entries = b"".join(struct.pack(">II", d, len(p)) for d, p in samples)

    def moof(data_offset: int) -> bytes:
        trun = full_box(b"trun", 0, 0x000301, struct.pack(">Ii", len(samples), data_offset),
                        entries)  # data offset, sample duration and size present
        traf = box(b"traf", full_box(b"tfhd", 0, 0x020000, struct.pack(">I", TRACK_ID)),
                   full_box(b"tfdt", 1, 0, struct.pack(">Q", base_time)), trun)
        return box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", sequence)), traf)

    size = len(moof(0))  # the offset does not change the size
    return styp + moof(size + 8) + box(b"mdat", *(p for _, p in samples))
