"""The MediaEngine: Sources, Feeds and the 20 ms clock of one process.

Each tick: swap in the pending MixPlan, pull one frame from every source the plan uses, and for
each FeedKey that has listeners (the Fanout's `keys_in_use()`, never the listener count) mix,
limit, encode once, then hand all the payloads to the Fanout with `pts = tick * 960`: one clock
for every channel, so a listener switching feeds never sees the RTP timestamp jump. An alias of
the plan (media/plan.py) in use makes its target in use; the target's packet is then published
under the alias's name too, so an alias never costs a mix or an encoder.

The clock is a deadline clock (`next += 20 ms` against the loop's time), so it does not drift; a
tick that wakes more than `max_late_ticks` late skips the missed ticks (pts stays on wall time)
rather than bursting them. The work runs inline on the loop: measured it is ~0.1 ms per feed and
~0.05 ms per decoded source, and a worker thread would be worse, not better: PyAV releases the GIL
inside libopus, so every encode in a thread must win the GIL back, and with the loop busy that
waits out the 5 ms switch interval, per call. docs/media.md has the numbers. For the same
reason the loop it runs on is the media process's own (media/process.py): a busy control thread
beside it would stall every hand-off the same way.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mirp.errors import InvalidInput, NotFound, Unavailable
from mirp.media.encoder import EncoderPool
from mirp.media.fanout import Fanout
from mirp.media.mixer import FRAME_SAMPLES, Frame, Limiter, mix
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.source import Source, wait_closed

log = logging.getLogger(__name__)

TICK_S = 0.020
LEVEL_EVERY_TICKS = 12  # ~4 level reports per second
LATENESS_WINDOW_TICKS = 3000  # the tick-lateness distribution covers the last minute
# upper edges (ms) of the cumulative lateness histogram: a reader diffs two snapshots to get the
# distribution over exactly its own window (bench/api_load.py)
LATENESS_EDGES_MS = (*(i / 2 for i in range(1, 21)), 12.0, 15.0, 20.0, 30.0, 50.0, 100.0,
                     200.0, 500.0, 1000.0, float("inf"))


class FanoutLike(Protocol):
    """The seam to media/fanout.py: listeners in, one publish per tick (tests use a fake)."""

    def add(self, listener_id: str, sender: Any, key: FeedKey) -> None: ...
    def switch(self, listener_id: str, key: FeedKey) -> None: ...
    def remove(self, listener_id: str) -> None: ...
    def keys_in_use(self) -> frozenset[FeedKey]: ...
    def publish(self, pts: int, packets: Mapping[FeedKey, bytes]) -> None: ...
    def stats(self) -> dict[str, int]: ...
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class EngineStats:
    sources: int  # sources added and alive
    decoding: int  # of which the current plan uses (the rest are parked)
    feeds: int  # keys in the current plan
    feeds_in_use: int  # keys with listeners: what gets encoded
    encoders: int  # live Opus encoders (== feeds_in_use, plus any in their short grace)
    listeners: int
    ticks: int  # ticks run
    late_ticks: int  # ticks that started more than one tick after their deadline
    skipped_ticks: int  # ticks given up to catch up with the wall clock
    plan_swaps: int
    sources_dropped: int  # failed or ended sources removed by the engine itself
    feed_failures: int
    packets_received: int
    packets_lost: int
    packets_late: int
    concealed: int
    hold_ms: float  # mean time a packet waits in the decoding sources' jitter buffers
    work_us_last: float  # CPU-side time of the last tick's gather + mix + encode + publish
    work_us_avg: float
    work_us_max: float
    # how late each tick started against its deadline, over the last LATENESS_WINDOW_TICKS: the
    # measure of whether anything else in this process delays the clock (docs/media.md)
    lateness_p50_ms: float = 0.0
    lateness_p99_ms: float = 0.0
    lateness_max_ms: float = 0.0
    packets_skipped: int = 0  # listener packets never sent because their tick was skipped
    lateness_counts: tuple[int, ...] = ()  # ticks ever, per LATENESS_EDGES_MS bucket
    packets_sent: int = 0  # listener packets handed to the network (one per listener per tick)
    packets_dropped: int = 0  # listener packets dropped: the listener's socket backlog was full


class RelayLike(Protocol):
    """The seam to media/relay.py: feeds sent to other planes, feeds received from them."""

    def keys_out(self) -> frozenset[FeedKey]: ...  # encoded here even without a listener here
    def keys_in(self) -> frozenset[FeedKey]: ...  # arrive encoded: never mixed or encoded here
    def publish(self, pts: int, packets: Mapping[FeedKey, bytes]) -> None: ...


LevelsCallback = Callable[[dict[str, float]], None]


class MediaEngine:
    """Owner of Sources, the encoders of the feeds in use, one Fanout and the clock."""

    def __init__(
        self,
        fanout: FanoutLike | None = None,
        *,
        max_late_ticks: int = 3,
        encoder_grace_ticks: int = 50,
        bitrate: int = 40_000,
        application: str = "lowdelay",
    ) -> None:
        if fanout is None:
            fanout = Fanout()
        self.fanout: FanoutLike = fanout
        self.max_late_ticks = max_late_ticks
        self.on_levels: LevelsCallback | None = None
        self.relay: RelayLike | None = None  # a cluster's media relay (media/relay.py)
        self._sources: dict[str, Source] = {}
        self._forwards: dict[str, Callable[[int, bytes], None]] = {}  # source id -> relay
        self._plan = MixPlan.of()
        self._pending: MixPlan | None = None
        self._used: frozenset[str] = frozenset()
        self._encoders = EncoderPool(encoder_grace_ticks, bitrate, application)
        self._limiters: dict[FeedKey, Limiter] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._tick = 0
        self._ticks = self._late = self._skipped = self._swaps = 0
        self._dropped = self._feed_failures = 0
        self._gone = [0, 0, 0, 0]  # received, lost, late, concealed of removed sources
        self._work_last = self._work_avg = self._work_max = 0.0
        self._in_use: frozenset[FeedKey] = frozenset()
        self._lateness: deque[float] = deque(maxlen=LATENESS_WINDOW_TICKS)  # ms, one per tick
        self._packets_skipped = 0
        self._lateness_counts = [0] * len(LATENESS_EDGES_MS)

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self._check_open()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="media-clock")

    async def close(self) -> None:
        """Stop the clock, close every source, encoder and the fanout; idempotent."""
        if self._closed:
            return
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        drains = [src.close() for src in self._sources.values()]
        self._sources.clear()
        await wait_closed(drains)
        self._encoders.close()
        self._limiters.clear()
        await self.fanout.close()

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("the media engine is closed")

    @property
    def plan(self) -> MixPlan:
        """The plan the clock mixes with now (a pending `apply` takes over at the next tick)."""
        return self._plan

    @property
    def tick(self) -> int:
        return self._tick

    # -- sources --------------------------------------------------------------------------------
    def add_source(self, source_id: str, receiver: Any = None, track: Any = None) -> Source:
        """Drain this microphone from now on; decode it only while the plan uses it.

        Without receiver and track the source is fed by `push_pcm` / `push_rtp` (tests, tools).
        A second add of the same id replaces the first (a reconnect).
        """
        self._check_open()
        self.remove_source(source_id)
        src = Source(source_id)
        src.forward = self._forwards.get(source_id)
        src.set_active(source_id in self._used)
        if receiver is not None or track is not None:
            src.attach(receiver, track)
        self._sources[source_id] = src
        return src

    def remove_source(self, source_id: str) -> None:
        src = self._sources.pop(source_id, None)
        if src is not None:
            self._forget(src)
            src.close()

    def source_of(self, source_id: str) -> Source | None:
        return self._sources.get(source_id)

    def forward(self, source_id: str, forward: Callable[[int, bytes], None] | None) -> None:
        """Hand every RTP payload of this microphone (now and after a reconnect) to `forward`
        as well, decoded or not: a cluster edge relays it to the origin (media/relay.py)."""
        if forward is None:
            self._forwards.pop(source_id, None)
        else:
            self._forwards[source_id] = forward
        src = self._sources.get(source_id)
        if src is not None:
            src.forward = forward

    def push_pcm(self, source_id: str, samples: Any) -> None:
        """Feed mono samples (float32 in [-1, 1] or int16, 48 kHz) to a source."""
        src = self._source(source_id)
        try:
            src.feed_pcm(samples)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"samples for {source_id!r} are not audio: {exc}") from exc

    def push_rtp(self, source_id: str, seq: int, payload: bytes) -> None:
        """Feed one Opus RTP payload to a source, as the receiver tap does."""
        self._source(source_id).feed_rtp(seq, payload)

    def _source(self, source_id: str) -> Source:
        src = self._sources.get(source_id)
        if src is None:
            raise NotFound(f"no source {source_id!r}")
        return src

    def _forget(self, src: Source) -> None:
        j = src.jitter
        for i, n in enumerate((j.received, j.lost, j.late, src.concealed)):
            self._gone[i] += n

    # -- plan and listeners ---------------------------------------------------------------------
    def apply(self, plan: MixPlan) -> None:
        """Use `plan` from the next tick boundary on (the latest apply before a tick wins)."""
        self._pending = plan

    def add_listener(self, listener_id: str, sender: Any, key: FeedKey) -> None:
        self._check_open()
        self.fanout.add(listener_id, sender, key)

    def switch(self, listener_id: str, key: FeedKey) -> None:
        self.fanout.switch(listener_id, key)

    def remove_listener(self, listener_id: str) -> None:
        self.fanout.remove(listener_id)

    def publish_relayed(self, pts: int, packets: Mapping[FeedKey, bytes]) -> None:
        """Packets another plane encoded (media/relay.py): straight to the listeners, on
        arrival, through the same fan-out as this engine's own."""
        if self._closed:
            return
        named = [(a, t) for a, t in self._plan.aliases.items() if t in packets]
        if named:
            packets = {**packets, **{a: packets[t] for a, t in named}}
        try:
            self.fanout.publish(pts, packets)
        except Exception:
            log.exception("fanout.publish of a relayed packet failed")

    # -- the clock ------------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TICK_S
        while True:
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:  # catching up: still let the loop's I/O (packets in, signaling) run in between
                await asyncio.sleep(0)
            late = loop.time() - deadline
            late_ms = max(0.0, late) * 1000.0
            self._lateness.append(late_ms)
            self._lateness_counts[bisect.bisect_left(LATENESS_EDGES_MS, late_ms)] += 1
            if late > TICK_S:
                self._late += 1
                if late > TICK_S * self.max_late_ticks:
                    skip = int(late / TICK_S)
                    self._skipped += skip
                    self._packets_skipped += skip * max(0, self._listener_count())
                    self._tick += skip
                    deadline += skip * TICK_S
            try:
                self.run_tick()
            except Exception:  # run_tick guards each part; this is the last line of defence
                log.exception("media tick %d failed", self._tick)
                self._tick += 1
            deadline += TICK_S

    def run_tick(self) -> None:
        """One tick's work at pts = tick * 960. Never raises: failures are logged and dropped."""
        t0 = time.perf_counter()
        tick = self._tick
        if self._pending is not None:
            self._swap(self._pending)
        frames = self._gather()
        try:
            in_use = self.fanout.keys_in_use()
        except Exception:
            log.exception("fanout.keys_in_use failed")
            in_use = frozenset()
        relay = self.relay
        if relay is not None:
            in_use = in_use | relay.keys_out()
        aliases = self._plan.aliases
        if aliases:  # an alias in use means its target is: encoded once, for both
            in_use = frozenset(aliases.get(k, k) for k in in_use)
        if relay is not None:
            in_use = in_use - relay.keys_in()
        self._in_use = in_use
        packets: dict[FeedKey, bytes] = {}
        for key in in_use:
            try:
                payload = self._produce(key, frames, tick)
            except Exception:
                log.exception("feed %s failed; dropped for this tick", key)
                self._feed_failures += 1
                self._encoders.drop(key)
                self._limiters.pop(key, None)
                continue
            if payload:
                packets[key] = payload
        for alias, target in aliases.items():  # the same bytes under the alias's name
            payload = packets.get(target)
            if payload:
                packets[alias] = payload
        if relay is not None:  # first: one sendto per edge, and the edges' listeners do not
            try:  # wait for this process's whole fan-out
                relay.publish(tick * FRAME_SAMPLES, packets)
            except Exception:
                log.exception("relay.publish failed at tick %d", tick)
        try:
            self.fanout.publish(tick * FRAME_SAMPLES, packets)
        except Exception:
            log.exception("fanout.publish failed at tick %d", tick)
        self._encoders.sweep(in_use, tick)
        for key in [k for k in self._limiters if k not in in_use]:
            del self._limiters[key]
        self._tick += 1
        self._ticks += 1
        if self._ticks % LEVEL_EVERY_TICKS == 0:
            self._report_levels()
        us = (time.perf_counter() - t0) * 1e6
        self._work_last = us
        self._work_max = max(self._work_max, us)
        self._work_avg = us if self._ticks == 1 else self._work_avg * 0.98 + us * 0.02

    def _swap(self, plan: MixPlan) -> None:
        self._pending = None
        self._plan = plan
        self._swaps += 1
        self._used = plan.sources()
        for sid, src in self._sources.items():
            src.set_active(sid in self._used)

    def _gather(self) -> dict[str, Frame]:
        frames: dict[str, Frame] = {}
        for sid, src in list(self._sources.items()):
            if src.ended:
                log.info("source %s ended; dropped", sid)
                self._drop_source(sid)
                continue
            if not src.active:
                continue
            try:
                frame = src.pull()
            except Exception:
                log.exception("source %s failed; dropped", sid)
                self._drop_source(sid)
                continue
            if frame is not None:
                frames[sid] = frame
        return frames

    def _drop_source(self, sid: str) -> None:
        self._dropped += 1
        self.remove_source(sid)

    def _produce(self, key: FeedKey, frames: Mapping[str, Frame], tick: int) -> bytes | None:
        samples = mix(self._plan.recipe(key), frames, key.minus)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = Limiter()
        samples = limiter.process(samples)
        payload = self._encoders.encode(key, samples, tick)
        if payload is None:
            self._feed_failures += 1
        return payload

    def _report_levels(self) -> None:
        cb = self.on_levels
        levels = {sid: src.take_level() for sid, src in self._sources.items() if src.active}
        if cb is None or not levels:
            return
        try:
            cb(levels)
        except Exception:
            log.exception("on_levels callback failed")

    # -- observation ----------------------------------------------------------------------------
    def _listener_count(self) -> int:
        return int(self._fanout_counts().get("listeners", 0))

    def _fanout_counts(self) -> dict[str, int]:
        try:
            return self.fanout.stats()
        except Exception:
            return {"listeners": -1}

    def stats(self) -> EngineStats:
        srcs = list(self._sources.values())
        active = [s for s in srcs if s.active and s.jitter.played]
        gone = self._gone
        out = self._fanout_counts()
        listeners = int(out.get("listeners", 0))  # -1: the fan-out did not answer
        late = sorted(self._lateness)

        def pct(q: float) -> float:
            return late[min(len(late) - 1, int(q * len(late)))] if late else 0.0

        return EngineStats(
            sources=len(srcs),
            decoding=sum(1 for s in srcs if s.active),
            feeds=len(self._plan.feeds),
            feeds_in_use=len(self._in_use),
            encoders=len(self._encoders),
            listeners=listeners,
            ticks=self._ticks,
            late_ticks=self._late,
            skipped_ticks=self._skipped,
            plan_swaps=self._swaps,
            sources_dropped=self._dropped,
            feed_failures=self._feed_failures,
            packets_received=gone[0] + sum(s.jitter.received for s in srcs),
            packets_lost=gone[1] + sum(s.jitter.lost for s in srcs),
            packets_late=gone[2] + sum(s.jitter.late for s in srcs),
            concealed=gone[3] + sum(s.concealed for s in srcs),
            hold_ms=(sum(s.jitter.hold_ms for s in active) / len(active)) if active else 0.0,
            work_us_last=self._work_last,
            work_us_avg=self._work_avg,
            work_us_max=self._work_max,
            lateness_p50_ms=pct(0.50),
            lateness_p99_ms=pct(0.99),
            lateness_max_ms=late[-1] if late else 0.0,
            packets_skipped=self._packets_skipped,
            lateness_counts=tuple(self._lateness_counts),
            packets_sent=int(out.get("packets_sent", 0)),
            packets_dropped=int(out.get("packets_dropped", 0)),
        )
