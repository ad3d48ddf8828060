"""Microphones relayed from an edge to the origin: Opus payloads, decoded only at the origin.

A participant who joined through an edge and whose voice the meeting uses (a floor holder, an
on-air interpreter, the room feed) has their microphone on the edge; the origin mixes. The edge
forwards each RTP payload its receive tap gets (media/source.py `Source.forward`), untouched,
over the same UDP relay as the feeds (media/relay.py: same header, kinds SOURCE and
SOURCE_ANNOUNCE, the source id announced like a feed's key), to the origin's relay socket. The
edge never decodes it (its plan does not use the source: parked), and forwards only the sources
the cluster layer names (`relay_to(..., sources=...)`: the active ones; parked sources are not
forwarded). The origin feeds the payloads into a Source of that id, made for it when it is
accepted (`relay_accept(..., sources=...)`), so its engine decodes them only while its plan uses
them, exactly as a local microphone. Fencing: per source id the newest epoch wins, as for feeds.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from mirp.media.relay_format import (
    ANNOUNCE_EVERY,
    HEADER,
    MAGIC,
    SEQ_MASK,
    SOURCE,
    SOURCE_ANNOUNCE,
    VERSION,
    Address,
    now_us,
)

log = logging.getLogger(__name__)

SendFn = Callable[[Address, bytes], None]
ForwardFn = Callable[[int, bytes], None]  # (RTP sequence number, Opus payload)


class SourceHost(Protocol):
    """What the source relay needs of the engine."""

    def add_source(self, source_id: str, receiver: Any = None, track: Any = None) -> Any: ...
    def remove_source(self, source_id: str) -> None: ...
    def source_of(self, source_id: str) -> Any: ...  # the engine's Source of that id, or None
    def forward(self, source_id: str, forward: ForwardFn | None) -> None: ...


@dataclass(slots=True)
class _Out:
    address: Address
    epoch: int
    sources: frozenset[str]
    announced: dict[str, int] = field(default_factory=dict)  # source id -> packets since


@dataclass(slots=True)
class _In:
    source: Any  # the engine's Source we made for it (fed directly: a replaced one is orphaned)
    epoch: int = -1
    received: int = 0
    fenced: int = 0
    last: float = 0.0


class SourceRelay:
    """Both halves: forwarding local microphones out (edge), feeding remote ones in (origin)."""

    def __init__(self, engine: SourceHost, send: SendFn) -> None:
        self._engine = engine
        self._send = send
        self._links: dict[str, _Out] = {}
        self._numbers: dict[str, int] = {}  # source id -> compact number (this edge's)
        self._forwarded: frozenset[str] = frozenset()
        self._in: dict[str, _In] = {}
        self._names: dict[tuple[int, int], str] = {}  # (epoch, number) -> source id
        self.packets_out = 0
        self.unknown = self.unwanted = 0

    # ------------------------------------------------------------------ out (edge)
    def link(self, link_id: str, address: Address, sources: Collection[str], epoch: int) -> None:
        old = self._links.get(link_id)
        link = _Out(address, epoch, frozenset(sources))
        if old is not None and old.address == address and old.epoch == epoch:
            link.announced = {s: n for s, n in old.announced.items() if s in link.sources}
        if link.sources:
            self._links[link_id] = link
        else:
            self._links.pop(link_id, None)
        self._rewire()

    def unlink(self, link_id: str) -> None:
        if self._links.pop(link_id, None) is not None:
            self._rewire()

    def _rewire(self) -> None:
        wanted: set[str] = set()
        for link in self._links.values():
            wanted |= link.sources
        for sid in self._forwarded - wanted:
            self._engine.forward(sid, None)
        for sid in wanted - self._forwarded:
            self._engine.forward(sid, functools.partial(self._out, sid))
        self._forwarded = frozenset(wanted)

    def _out(self, sid: str, seq: int, payload: bytes) -> None:
        number = self._numbers.get(sid)
        if number is None:
            number = self._numbers[sid] = len(self._numbers) + 1
        sent_us = now_us()
        for link in self._links.values():
            if sid not in link.sources:
                continue
            since = link.announced.get(sid)
            if since is None or since >= ANNOUNCE_EVERY:
                self._send(link.address, HEADER.pack(MAGIC, VERSION, SOURCE_ANNOUNCE, 0, number,
                                                     link.epoch, 0, 0, sent_us) + sid.encode())
                since = 0
            link.announced[sid] = since + 1
            self._send(link.address, HEADER.pack(MAGIC, VERSION, SOURCE, 0, number, link.epoch,
                                                 seq & SEQ_MASK, 0, sent_us) + payload)
            self.packets_out += 1

    # ------------------------------------------------------------------ in (origin)
    def accept(self, sources: Collection[str]) -> None:
        """The remote microphones this plane mixes: a Source each, fed by the relay."""
        wanted = frozenset(sources)
        for sid in [s for s in self._in if s not in wanted]:
            entry = self._in.pop(sid)
            if self._engine.source_of(sid) is entry.source:  # still ours, not a local one
                self._engine.remove_source(sid)
        for sid in wanted - set(self._in):
            if self._engine.source_of(sid) is not None:
                log.warning("relay: source %s is local here; not fed from the relay", sid)
                continue
            self._in[sid] = _In(self._engine.add_source(sid))

    def announced(self, number: int, epoch: int, body: bytes) -> bool:
        try:
            sid = body.decode()
        except UnicodeDecodeError:
            return False
        self._names[epoch, number] = sid
        return True

    def data(self, number: int, epoch: int, seq: int, payload: bytes) -> None:
        sid = self._names.get((epoch, number))
        if sid is None:
            self.unknown += 1
            return
        entry = self._in.get(sid)
        if entry is None:
            self.unwanted += 1
            return
        if epoch < entry.epoch:
            entry.fenced += 1
            return
        if epoch > entry.epoch:
            entry.epoch = epoch
            for name in [n for n, s in self._names.items() if s == sid and n[0] < epoch]:
                del self._names[name]
        entry.received += 1
        entry.last = time.monotonic()
        entry.source.feed_rtp(seq & 0xFFFF, payload)

    def stats(self) -> tuple[int, int, int, int]:
        """(sources forwarded out, packets received in, fenced in, sources accepted in)."""
        return (len(self._forwarded), sum(e.received for e in self._in.values()),
                sum(e.fenced for e in self._in.values()), len(self._in))

    def close(self) -> None:
        for sid in self._forwarded:
            self._engine.forward(sid, None)
        self._forwarded = frozenset()
        self._links.clear()
