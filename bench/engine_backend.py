"""The bench server's real media plane: mirp's MediaEngine + PeerFactory (+ its Fanout).

Exactly the objects the app wires in its lifespan (docs/architecture.md, Composition), driven by
the bench's control instead of rooms and signaling: a source's offer becomes a Peer whose
track the engine drains (`add_source`), a listener's offer a Peer whose sender the engine
fans out to (`add_listener`). Admission batching is PeerFactory's own (`join_batch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import Any

from mirp.media.engine import MediaEngine
from mirp.media.peer import Peer, PeerFactory
from mirp.media.plan import FeedKey, MixPlan

log = logging.getLogger("bench.server")


def feed_key(key: Any) -> FeedKey:
    """`"fr"` or `{"channel": "fr", "under_level_db": -18, "minus": "x"}` -> FeedKey."""
    if isinstance(key, str):
        return FeedKey(key)
    if isinstance(key, dict):
        return FeedKey(str(key["channel"]), int(key.get("under_level_db", 0)), key.get("minus"))
    raise ValueError(f"bad feed key {key!r}")


class EngineBackend:
    admits_itself = True  # PeerFactory bounds handshakes in flight

    def __init__(self, join_batch: int = 100) -> None:
        self.engine = MediaEngine()
        self.peers = PeerFactory(loopback_only=True, join_batch=join_batch)
        self.sessions: dict[str, Peer] = {}
        self.gone: dict[str, str] = {}
        self._closing: set[asyncio.Future[None]] = set()
        # switch request in -> first packet of the new key published to that listener
        self.switch_ms: list[float] = []
        self._switching: dict[str, tuple[FeedKey, float]] = {}
        fanout = self.engine.fanout
        publish = fanout.publish

        def timed_publish(pts: int, packets: Any) -> None:
            publish(pts, packets)
            if self._switching:
                t = time.monotonic()
                for pid, (key, t0) in list(self._switching.items()):
                    if fanout.key_of(pid) == key and packets.get(key):  # type: ignore[attr-defined]
                        self.switch_ms.append(1000.0 * (t - t0))
                        del self._switching[pid]

        fanout.publish = timed_publish  # type: ignore[method-assign]

    async def start(self) -> None:
        await self.engine.start()

    async def offer(self, peer_id: str, role: str, key: Any, sdp: str) -> str:
        session = self.peers.create_peer(peer_id)
        self.sessions[peer_id] = session
        engine = self.engine
        if role == "source":
            def on_track(receiver: Any, track: Any) -> None:
                engine.add_source(peer_id, receiver, track)

            session.on_track = on_track

        def on_gone(reason: str) -> None:
            self.gone[peer_id] = reason
            engine.remove_listener(peer_id)
            engine.remove_source(peer_id)

        session.on_gone = on_gone
        answer = await session.accept_offer(sdp)
        if role != "source":
            engine.add_listener(peer_id, session.sender, feed_key(key or "floor"))
        return answer

    async def connected(self, peer_id: str) -> None:
        session = self.sessions.get(peer_id)
        if session is not None:
            with contextlib.suppress(TimeoutError):
                await session.wait_connected(30.0)

    def plan(self, feeds: list[dict[str, Any]]) -> None:
        self.engine.apply(MixPlan.of({
            feed_key(f["key"]): tuple((str(s), float(g)) for s, g in f["recipe"]) for f in feeds
        }))

    def switch(self, peer_id: str, key: Any) -> None:
        fk = feed_key(key)
        self._switching[peer_id] = (fk, time.monotonic())
        self.engine.switch(peer_id, fk)

    async def remove(self, peer_id: str) -> None:
        """Out of the fan-out at once; the peer connection closes in the background (closing
        hundreds one after the other on a saturated server would hold the control up)."""
        self.engine.remove_listener(peer_id)
        self.engine.remove_source(peer_id)
        session = self.sessions.pop(peer_id, None)
        if session is not None:
            task = asyncio.ensure_future(session.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def stats(self) -> dict[str, Any]:
        st = dataclasses.asdict(self.engine.stats())
        fan = self.engine.fanout.stats()
        return {
            **{k: (round(v, 1) if isinstance(v, float) else v) for k, v in st.items()},
            "plan_feeds": st["feeds"],
            # what the issue calls feeds: distinct products being made (= keys with listeners)
            "feeds": st["feeds_in_use"],
            "fanout": fan,
            "peers_gone": len(self.gone),
            "switch_ms": self.switch_ms,
            "gone_reasons": sorted(set(self.gone.values())),
        }
