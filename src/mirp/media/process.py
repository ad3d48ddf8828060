"""The MediaPlane in a child process: the control side's half of media/worker.py.

Why a process and not a thread: measured, a busy control thread (a 5000-row CSV, a long listing)
makes every GIL hand-off of a media thread wait out the 5 ms switch interval, so the clock would
still stall; in its own process the clock has its own interpreter.

What crosses is media/wire.py over a socketpair. Commands with no answer (apply, listen,
unlisten, close_peer) are written and forgotten, in order; requests (offer, candidate, stats)
carry an id and time out with Unavailable. The child's end of the stream is noticed at once (the
socket closes when it dies): every request in flight fails with Unavailable, every peer is
reported gone (rooms tell their clients `peer_closed`, and clients re-offer), a new child is
started and given the current plan. What that costs is written in docs/operations.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Collection
from dataclasses import asdict
from typing import Any

from mirp.errors import MirpError, Unavailable
from mirp.media import wire
from mirp.media.engine import EngineStats
from mirp.media.plan import FeedKey, MixPlan
from mirp.media.plane import (
    Candidate,
    EventCallback,
    Levels,
    MediaEvent,
    PeerGone,
    PlaneConfig,
    PlaneStats,
    emit,
)
from mirp.media.relay_format import Address, RelayStats, check_epoch
from mirp.media.selfcheck import SelfCheck

log = logging.getLogger(__name__)

CRASH_REASON = "media process restarted"


class _Child:
    """One media process and its end of the stream."""

    def __init__(self, proc: asyncio.subprocess.Process, writer: asyncio.StreamWriter) -> None:
        self.proc = proc
        self.writer = writer
        self.ready: asyncio.Future[wire.Ready] = asyncio.get_running_loop().create_future()
        self.reader_task: asyncio.Task[None] | None = None
        self.lost = False


class ProcessPlane:
    """Implements media.plane.MediaPlane by running a LocalPlane in a child process."""

    def __init__(self, config: PlaneConfig | None = None, *, request_timeout_s: float = 10.0,
                 offer_timeout_s: float = 60.0, start_timeout_s: float = 30.0,
                 restart_delay_s: float = 0.2) -> None:
        self.config = config or PlaneConfig()
        self.request_timeout_s = request_timeout_s
        self.offer_timeout_s = offer_timeout_s  # admission may queue an offer behind others
        self.start_timeout_s = start_timeout_s
        self.restart_delay_s = restart_delay_s
        self.on_event: EventCallback | None = None
        self.restarts = 0
        self.self_check: SelfCheck | None = None  # what the media process's compat decided
        self._plan = MixPlan.of()
        self._generation: dict[str, int] = {}  # peers the child has or is setting up
        self._next_generation = 0
        self._next_rid = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._child: _Child | None = None
        self._restarting: asyncio.Task[None] | None = None
        self._closing = False
        self._up = asyncio.Event()  # a child is ready: requests wait for it while restarting
        # the relay as last asked, given again to a restarted child (the same listen address)
        self._relay_listen: Address | None = None
        self._relay_accept: wire.RelayAccept | None = None
        self._relay_links: dict[str, wire.RelayTo] = {}

    @property
    def pid(self) -> int | None:
        """The media process's pid (tests kill it); None while none is ready."""
        child = self._child
        if child is None or child.lost or not child.ready.done():
            return None
        return child.proc.pid

    @property
    def plan(self) -> MixPlan:
        """The plan last applied (given again to a restarted child)."""
        return self._plan

    # ---------------------------------------------------------------- the child
    async def start(self) -> None:
        await self._spawn()

    async def _spawn(self) -> None:
        parent_sock, child_sock = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "mirp.media.worker", str(child_sock.fileno()),
                pass_fds=(child_sock.fileno(),), stdin=asyncio.subprocess.DEVNULL)
        finally:
            child_sock.close()
        reader, writer = await asyncio.open_connection(sock=parent_sock)
        child = _Child(proc, writer)
        self._child = child
        child.reader_task = asyncio.create_task(self._read(child, reader), name="media-reader")
        writer.write(wire.encode(wire.Configure(asdict(self.config))))
        try:
            ready = await asyncio.wait_for(asyncio.shield(child.ready), self.start_timeout_s)
        except (TimeoutError, Unavailable) as exc:
            self._lost(child)
            raise Unavailable("the media process did not start") from exc
        self.self_check = check = SelfCheck.from_wire(ready.self_check)
        log.log(logging.INFO if check.all_on else logging.WARNING,
                "media process %d ready; aiortc internals: %s", ready.pid, check.summary())
        if self._plan.feeds or self._plan.video or self._plan.aliases:
            self._send(wire.Apply.of(self._plan))
        self._up.set()
        await self._restore_relay()

    async def _restore_relay(self) -> None:
        """A restarted child: the relay's socket on the same address (the origins keep
        sending there), the relayed keys and the links, before anything else is asked."""
        if self._relay_accept is not None:
            self._send(self._relay_accept)
        for link in self._relay_links.values():
            self._send(link)
        if self._relay_listen is not None:
            host, port = self._relay_listen
            try:
                await self._request(lambda rid: wire.RelayListen(rid, host, port),
                                    self.request_timeout_s)
            except Unavailable as exc:
                log.error("media process: relay not listening again on %s:%d: %s",
                          host, port, exc)

    async def _read(self, child: _Child, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                message = await wire.read_message(reader)
                if message is None:
                    break
                self._on_message(child, message)
        except Exception:
            log.exception("media stream failed")
        finally:
            self._lost(child)

    def _on_message(self, child: _Child, message: wire.Message) -> None:
        if isinstance(message, wire.Reply):
            fut = self._pending.pop(message.rid, None)
            if fut is not None and not fut.done():
                if message.error is not None:
                    fut.set_exception(MirpError.from_dict(message.error))
                else:
                    fut.set_result(message.result)
        elif isinstance(message, PeerGone):
            if self._generation.get(message.peer_id) == message.generation:
                del self._generation[message.peer_id]
                self._emit(message)
        elif isinstance(message, wire.Ready):
            if not child.ready.done():
                child.ready.set_result(message)
        elif isinstance(message, Levels):
            self._emit(message)

    def _lost(self, child: _Child) -> None:
        """The child ended (crash, kill, or our close): fail, report, restart."""
        if child.lost:
            return
        child.lost = True
        if not child.ready.done():
            child.ready.set_exception(Unavailable("the media process ended"))
            child.ready.exception()  # retrieved: start() reports it
        child.writer.close()
        if child.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.proc.kill()
        if self._child is not child:
            return
        self._child = None
        self._up.clear()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(Unavailable("the media process stopped"))
        self._pending.clear()
        gone, self._generation = self._generation, {}
        if not self._closing:
            log.error("media process %d ended (%s); %d peers lost, restarting",
                      child.proc.pid, child.proc.returncode, len(gone))
        for peer_id, generation in gone.items():
            self._emit(PeerGone(peer_id, generation, CRASH_REASON))
        if not self._closing and self._restarting is None:
            self._restarting = asyncio.create_task(self._restart(), name="media-restart")

    async def _restart(self) -> None:
        delay = self.restart_delay_s
        try:
            while not self._closing:
                await asyncio.sleep(delay)
                try:
                    await self._spawn()
                except Exception as exc:
                    log.error("media process restart failed: %s", exc)
                    delay = min(delay * 2, 5.0)
                    continue
                self.restarts += 1
                return
        finally:
            self._restarting = None

    async def close(self) -> None:
        """Stop the child: it sees its stream end, closes its peers and exits (idempotent)."""
        self._closing = True
        if self._restarting is not None:
            self._restarting.cancel()
        child = self._child
        if child is None:
            return
        child.writer.close()
        try:
            await asyncio.wait_for(child.proc.wait(), 10.0)
        except TimeoutError:
            log.error("media process %d did not stop; killed", child.proc.pid)
            with contextlib.suppress(ProcessLookupError):
                child.proc.kill()
            await child.proc.wait()
        if child.reader_task is not None:
            await asyncio.gather(child.reader_task, return_exceptions=True)
        self._lost(child)

    def _emit(self, event: MediaEvent) -> None:
        emit(self.on_event, event)

    # ---------------------------------------------------------------- sending
    def _send(self, message: wire.Message) -> bool:
        child = self._child
        if child is None or child.lost or not child.ready.done():
            return False  # no child: its peers are gone anyway, the plan is re-sent at start
        child.writer.write(wire.encode(message))
        return True

    async def _request(self, message_for: Any, timeout_s: float) -> Any:
        if not self._up.is_set() and not self._closing:  # restarting: a few hundred ms
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._up.wait(), min(timeout_s, self.start_timeout_s))
        self._next_rid += 1
        rid = self._next_rid
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        if not self._send(message_for(rid)):
            self._pending.pop(rid, None)
            raise Unavailable("the media process is not running; try again")
        try:
            return await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            raise Unavailable("the media process did not answer in time") from None
        finally:
            self._pending.pop(rid, None)

    # ---------------------------------------------------------------- MediaPlane
    async def offer(self, peer_id: str, sdp: str) -> str:
        self._next_generation += 1
        generation = self._next_generation
        self._generation[peer_id] = generation
        try:
            answer = await self._request(
                lambda rid: wire.Offer(rid, peer_id, generation, sdp), self.offer_timeout_s)
        except BaseException:
            if self._generation.get(peer_id) == generation:
                self.close_peer(peer_id)  # the child dropped it already, or may still set it up
            raise
        return str(answer)

    async def candidate(self, peer_id: str, candidate: Candidate | None) -> None:
        value = None if candidate is None else dict(candidate)
        await self._request(lambda rid: wire.AddCandidate(rid, peer_id, value),
                            self.request_timeout_s)

    def close_peer(self, peer_id: str) -> None:
        self._generation.pop(peer_id, None)
        self._send(wire.ClosePeer(peer_id))

    def apply(self, plan: MixPlan) -> None:
        self._plan = plan
        self._send(wire.Apply.of(plan))

    def listen(self, peer_id: str, key: FeedKey) -> None:
        self._send(wire.Listen(peer_id, wire.key_to_wire(key)))

    def unlisten(self, peer_id: str) -> None:
        self._send(wire.Unlisten(peer_id))

    async def relay_listen(self, host: str, port: int = 0) -> Address:
        value = await self._request(lambda rid: wire.RelayListen(rid, host, port),
                                    self.request_timeout_s)
        self._relay_listen = address = (str(value[0]), int(value[1]))
        return address

    def relay_accept(self, keys: Collection[FeedKey], sources: Collection[str] = ()) -> None:
        self._relay_accept = wire.RelayAccept([wire.key_to_wire(k) for k in keys],
                                              [str(s) for s in sources])
        self._send(self._relay_accept)

    def relay_to(self, link_id: str, address: Address, keys: Collection[FeedKey],
                 epoch: int, sources: Collection[str] = (), videos: Collection[str] = (),
                 video_from: Collection[str] = ()) -> None:
        check_epoch(epoch)
        link = wire.RelayTo(link_id, str(address[0]), int(address[1]),
                            [wire.key_to_wire(k) for k in keys], epoch, [str(s) for s in sources],
                            [str(v) for v in videos], [str(v) for v in video_from])
        self._relay_links[link_id] = link
        self._send(link)

    def relay_stop(self, link_id: str) -> None:
        self._relay_links.pop(link_id, None)
        self._send(wire.RelayStop(link_id))

    async def stats(self) -> PlaneStats:
        value = await self._request(wire.GetStats, self.request_timeout_s)
        engine = dict(value["engine"])
        engine["lateness_counts"] = tuple(engine.get("lateness_counts", ()))
        return PlaneStats(engine=EngineStats(**engine), peers=int(value["peers"]),
                          restarts=self.restarts,
                          self_check=SelfCheck.from_wire(value["self_check"]),
                          relay=RelayStats.from_wire(value.get("relay", {})),
                          video={str(k): int(v) for k, v in value.get("video", {}).items()})
