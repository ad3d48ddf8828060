"""One WebSocket connection: a reader, a writer draining a bounded outbox, and a heartbeat.

Why this shape (Galène's "one loop per client", made explicit):
- Everyone else (the Room task above all) hands this Session messages with `send()`, which never
  blocks: the message goes into a bounded outbox. A client so slow that its outbox fills up is
  disconnected with TooSlow's close code instead of making the server buffer for it forever.
- Only the writer task touches the socket for sending, so a stalled client stalls nobody else.
- The reader hands each message, in order, to the handler; a handler error never kills the loop.
- The heartbeat sends `ping` when the server has *heard* nothing from the client for `heartbeat_s`,
  however much it sent meanwhile (a busy room sends all the time: pinging only a quiet outgoing
  line would never ask a listening client anything, then drop it as silent). A client that
  answers (`pong`, or sends its own `ping`) is watched: silent for 3 heartbeats, it is closed
  (1001, so it reconnects). Clients that never answer rely on the WebSocket protocol's own ping
  (uvicorn) and on the Peer's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from mirp.config import Limits
from mirp.errors import MirpError, TooSlow
from mirp.ids import new_id
from mirp.signaling.protocol import PROTOCOL_VERSION, Welcome, error_message

log = logging.getLogger("mirp.signaling.session")

GOING_AWAY = 1001
CLOSE_TIMEOUT_S = 2.0


class Socket(Protocol):
    """The WebSocket as the Session needs it (routes.py's StarletteSocket adapts Starlette's;
    the tests use one in memory)."""

    async def receive(self) -> str | bytes | None:
        """The next message, or None when the peer closed the connection."""
        ...

    async def send(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class _Close:
    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class Session:
    """One WebSocket connection of a Participant (a reconnect is a new Session of the same
    Participant); what the Room needs of it is rooms.session.Session."""

    def __init__(
        self,
        socket: Socket,
        limits: Limits,
        ice_servers: list[dict[str, Any]] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = new_id("s_")
        self.participant_id: str | None = None
        self.socket = socket
        self.limits = limits
        self.ice_servers = ice_servers or []
        self.clock = clock
        self._outbox: asyncio.Queue[str | _Close] = asyncio.Queue(limits.outbox_messages)
        self.close_code: int | None = None
        self.close_reason = ""
        self.last_heard = clock()
        self.last_sent = clock()
        self.last_ping = clock()
        self.watched = False  # the client answers heartbeats
        self._done = asyncio.Event()
        self._drained = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self.sent = 0
        self.received = 0

    # ---------------------------------------------------------------- rooms.session.Session
    @property
    def closing(self) -> bool:
        return self.close_code is not None

    def send_json(self, text: str) -> None:
        """Queue one encoded message; never blocks. A full outbox disconnects the client."""
        if self.closing:
            return
        try:
            self._outbox.put_nowait(text)
        except asyncio.QueueFull:
            self._abort(TooSlow(f"client did not read {self.limits.outbox_messages} messages"))

    def send(self, message: dict[str, Any]) -> None:
        self.send_json(encode(message))

    def welcome(self, participant_id: str, room: dict[str, Any], seq: int, resumed: bool) -> None:
        """The first message after a successful hello (sent by the Room task, so no room event
        can overtake it)."""
        self.participant_id = participant_id
        message = Welcome(
            participant_id=participant_id,
            session_id=self.id,
            resume=self.id,
            resumed=resumed,
            seq=seq,
            room={},
            ice_servers=self.ice_servers,
            heartbeat_s=self.limits.heartbeat_s,
            v=PROTOCOL_VERSION,
        ).model_dump(exclude_none=True)
        # the room is plain JSON data already: put in as is (pydantic re-serializing a room of
        # 2,000 participants cost 1.3 ms per welcome in the join storm, bench/join_storm.py)
        message["room"] = room
        self.send(message)

    def close(
        self,
        code: int,
        reason: str,
        error: MirpError | None = None,
        msg_id: int | str | None = None,
    ) -> None:
        """Close after the messages already queued (and `error`, if given) are written."""
        if self.closing:
            return
        if error is not None:
            self.send(error_message(error, msg_id, fatal=True))
            if self.closing:  # the error did not fit: aborted as too slow
                return
        self.close_code, self.close_reason = code, reason[:120]
        try:
            self._outbox.put_nowait(_Close(code, reason[:120]))
        except asyncio.QueueFull:
            self._abort(TooSlow("client did not read its messages"))

    def _abort(self, error: MirpError) -> None:
        """Give up on a client at once (it does not read): no more writing, close the socket."""
        if self._done.is_set():
            return
        log.info("session %s (%s) aborted: %s", self.id, self.participant_id, error.message)
        self.close_code, self.close_reason = error.ws_close, error.message[:120]
        self._done.set()

    # ---------------------------------------------------------------- loops
    async def run(self, on_message: Callable[[str | bytes], Awaitable[None]]) -> None:
        """Read until the client goes away or the Session is closed; returns when it is over."""
        self._writer = asyncio.create_task(self._write_loop(), name=f"writer {self.id}")
        heartbeat = asyncio.create_task(self._heartbeat_loop(), name=f"heartbeat {self.id}")
        reader = asyncio.create_task(self._read_loop(on_message), name=f"reader {self.id}")
        done_wait = asyncio.create_task(self._done.wait())
        try:
            await asyncio.wait({reader, done_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._done.set()
            for task in (reader, heartbeat, done_wait):
                task.cancel()
            writer_finished = self._writer.done()
            if not writer_finished:
                self._writer.cancel()
            await asyncio.gather(reader, heartbeat, done_wait, self._writer, return_exceptions=True)
            if self.close_code is None:
                self.close_code = 1000
            if not writer_finished:  # the writer did not get to close the socket
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self.socket.close(self.close_code, self.close_reason), CLOSE_TIMEOUT_S
                    )

    async def _read_loop(self, on_message: Callable[[str | bytes], Awaitable[None]]) -> None:
        while True:
            try:
                raw = await self.socket.receive()
            except Exception as exc:  # a broken socket ends the session like a close
                log.debug("session %s receive failed: %r", self.id, exc)
                return
            if raw is None:
                return
            self.last_heard = self.clock()
            self.received += 1
            try:
                await on_message(raw)
            except asyncio.CancelledError:
                raise
            except Exception:  # the handler answers MirpErrors itself; this is a bug
                log.exception("session %s: handler failed", self.id)
                self.send(error_message(MirpError("internal error")))
            await self._backpressure()

    async def _backpressure(self) -> None:
        """Read no faster than replies are written: a client sending a burst waits for its own
        replies to drain (half the outbox), so the burst alone never overflows it; a client
        that neither reads nor lets us catch up within two heartbeats is too slow."""
        half = max(1, self._outbox.maxsize // 2)
        if self._outbox.qsize() <= half:
            await asyncio.sleep(0)  # let the writer run between messages
            return
        self._drained.clear()
        try:
            await asyncio.wait_for(self._drained.wait(), 2 * self.limits.heartbeat_s)
        except TimeoutError:
            self._abort(TooSlow("client did not read its replies"))

    async def _write_loop(self) -> None:
        while True:
            item = await self._outbox.get()
            if isinstance(item, _Close):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self.socket.close(item.code, item.reason), CLOSE_TIMEOUT_S
                    )
                self._done.set()
                return
            try:
                await self.socket.send(item)
            except Exception as exc:
                log.debug("session %s send failed: %r", self.id, exc)
                if self.close_code is None:
                    self.close_code, self.close_reason = GOING_AWAY, "send failed"
                self._done.set()
                return
            self.sent += 1
            self.last_sent = self.clock()
            if self._outbox.qsize() <= self._outbox.maxsize // 2:
                self._drained.set()

    async def _heartbeat_loop(self) -> None:
        period = self.limits.heartbeat_s
        while True:
            await asyncio.sleep(period / 2)
            now = self.clock()
            if self.watched and now - self.last_heard > 3 * period:
                self.close(GOING_AWAY, "heartbeat lost")
                return
            if now - self.last_heard >= period and now - self.last_ping >= period:
                self.send({"type": "ping", "t": round(time.time(), 3)})
                self.last_ping = now
