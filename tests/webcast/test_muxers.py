"""The fMP4 and Ogg Opus writers: what they write is read back by FFmpeg (PyAV), sample exact."""

from __future__ import annotations

import io
import struct

from mirp.webcast import fmp4, ogg
from tests.support.audio import opus_packets, peak_hz, tone
from tests.webcast.support import decode


def test_fmp4_fragments_decode_to_the_tone_with_every_sample() -> None:
    packets = opus_packets(tone(700, 2.0))
    data = fmp4.init_segment() + fmp4.media_segment(1, 0, [(960, p) for p in packets[:50]]) + \
        fmp4.media_segment(2, 48_000, [(960, p) for p in packets[50:]])
    audio = decode(data)
    assert len(audio) == 960 * len(packets)
    assert abs(peak_hz(audio[4800:]) - 700) < 15


def test_the_init_segment_has_an_opus_sample_entry_with_dops() -> None:
    init = fmp4.init_segment(channels=1, pre_skip=312)
    at = init.index(b"dOps")
    version, channels, pre_skip, rate = struct.unpack(">BBHI", init[at + 4:at + 12])
    assert (version, channels, pre_skip, rate) == (0, 1, 312, 48_000)
    assert b"Opus" in init and b"mvex" in init


def test_a_segment_starts_at_its_base_time() -> None:
    seg = fmp4.media_segment(7, 123 * 960, [(960, b"\xf8")])
    at = seg.index(b"tfdt")
    assert struct.unpack(">Q", seg[at + 8:at + 16])[0] == 123 * 960
    at = seg.index(b"mfhd")
    assert struct.unpack(">I", seg[at + 8:at + 12])[0] == 7


def test_ogg_opus_decodes_to_the_tone_and_its_pages_check() -> None:
    packets = opus_packets(tone(300, 3.0))
    out = io.BytesIO()
    writer = ogg.OggOpusWriter(out, serial=42)
    for p in packets:
        writer.add(p)
    writer.close()
    data = out.getvalue()
    audio = decode(data)
    assert len(audio) == 960 * len(packets)
    assert abs(peak_hz(audio[4800:]) - 300) < 15
    # every page's CRC is right, the first is BOS, the last EOS with the full granule
    pages, at = [], 0
    while at < len(data):
        assert data[at:at + 4] == b"OggS"
        nseg = data[at + 26]
        size = 27 + nseg + sum(data[at + 27:at + 27 + nseg])
        page = data[at:at + size]
        crc = struct.unpack("<I", page[22:26])[0]
        assert crc == ogg.ogg_crc(page[:22] + b"\0\0\0\0" + page[26:])
        pages.append(page)
        at += size
    assert pages[0][5] == 0x02 and pages[-1][5] == 0x04
    assert struct.unpack("<q", pages[-1][6:14])[0] == 960 * len(packets)


def test_a_long_packet_is_laced_over_several_segments() -> None:
    body = ogg.page(1, 0, 0, [b"x" * 600])
    assert list(body[27:30]) == [255, 255, 90]
