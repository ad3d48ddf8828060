"""An Ogg Opus writer (RFC 3533 pages, RFC 7845 headers) for packets that are already encoded.

Why our own: a recording must not decode and re-encode what the media plane encoded once, and
an Ogg page is 27 bytes of header, a lacing table and a CRC. One page per `PAGE_PACKETS`
packets (a second of audio): a crash or a full disk loses at most that much, and the file is
playable up to its last complete page.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

PAGE_PACKETS = 50
OPUS_RATE = 48_000


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32: polynomial 0x04C11DB7, no reflection, initial and final value 0."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[(crc >> 24) ^ byte]
    return crc


def page(serial: int, sequence: int, granule: int, packets: list[bytes], flags: int = 0) -> bytes:
    lacing = bytearray()
    for p in packets:
        lacing += b"\xff" * (len(p) // 255) + bytes([len(p) % 255])
    if len(lacing) > 255:
        raise ValueError("too many segments for one Ogg page")
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0,
                         len(lacing)) + bytes(lacing)
    body = header + b"".join(packets)
    crc = ogg_crc(body)
    return body[:22] + struct.pack("<I", crc) + body[26:]


class OggOpusWriter:
    """Writes one logical Opus stream (mono unless told) to `out`, page by page."""

    def __init__(self, out: BinaryIO, serial: int, channels: int = 1, pre_skip: int = 0,
                 vendor: str = "mirp") -> None:
        self._out = out
        self._serial = serial & 0xFFFFFFFF
        self._seq = 0
        self._granule = pre_skip
        self._pending: list[bytes] = []
        self.samples = 0  # audio samples written (48 kHz), the pre-skip not counted
        head = struct.pack("<8sBBHIhB", b"OpusHead", 1, channels, pre_skip, OPUS_RATE, 0, 0)
        tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor.encode() + \
            struct.pack("<I", 0)
        self._write(page(self._serial, self._next(), 0, [head], flags=0x02))
        self._write(page(self._serial, self._next(), 0, [tags]))

    def _next(self) -> int:
        self._seq += 1
        return self._seq - 1

    def _write(self, data: bytes) -> None:
        self._out.write(data)

    def add(self, packet: bytes, samples: int = 960) -> None:
        """One Opus packet of `samples` (48 kHz); written when its page is full."""
        self._pending.append(packet)
        self._granule += samples
        self.samples += samples
        if len(self._pending) >= PAGE_PACKETS:
            self.flush()

    def flush(self, last: bool = False) -> None:
        if self._pending or last:
            self._write(page(self._serial, self._next(), self._granule, self._pending,
                             flags=0x04 if last else 0))
            self._pending = []
        self._out.flush()

    def close(self) -> None:
        self.flush(last=True)
