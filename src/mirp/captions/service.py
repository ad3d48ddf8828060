"""The app's side of the captioner: starts the worker process, has the media plane relay the
captioned feeds to it, and hands each caption back (to the rooms and the transcript).

It knows no room and no store: app.py gives it `wanted()` (what to caption now) and
`deliver(...)` (what to do with a caption). `wanted` is polled every `poll_s`: rooms open and
close, organizers change the option, and a poll is cheaper than a callback through every layer.
The worker speaks JSON lines over its stdin and stdout (mirp/captions/worker.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mirp.media.plan import FeedKey
from mirp.media.relay_format import Address

log = logging.getLogger("mirp.captions")
LINK = "captions"  # the relay link id of the captioner
FLOOR = "floor"


class RelayPlane(Protocol):
    """What the service needs of the media plane (media/plane.py MediaPlane)."""

    def relay_to(self, link_id: str, address: Address, keys: Collection[FeedKey],
                 epoch: int, sources: Collection[str] = ()) -> None: ...
    def relay_stop(self, link_id: str) -> None: ...


@dataclass(frozen=True, slots=True, order=True)
class Wanted:
    meeting_id: str
    channel: str  # "floor" or a language
    languages: tuple[str, ...]  # the meeting's: what the floor may be in


@dataclass(frozen=True, slots=True)
class Heard:
    meeting_id: str
    channel: str
    text: str
    language: str
    start: float  # wall-clock seconds
    end: float


Deliver = Callable[[Heard], Awaitable[None]]


def feed_of(w: Wanted) -> FeedKey:
    """The namespaced key of the feed a channel is captioned from (rooms/captioning.py)."""
    return FeedKey(f"{w.meeting_id}/{w.channel}")


class CaptionService:
    def __init__(self, config: dict[str, Any], plane: RelayPlane,
                 wanted: Callable[[], Sequence[Wanted]], deliver: Deliver,
                 poll_s: float = 1.0) -> None:
        self.config = config
        self.plane = plane
        self.wanted = wanted
        self.deliver = deliver
        self.poll_s = poll_s
        self.address: Address | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sent: tuple[Wanted, ...] | None = None
        self.delivered = 0
        self.dropped = 0
        self.ready = asyncio.Event()
        self.ready_s = 300.0  # the worker's model load, on a busy machine

    async def start(self) -> None:
        """Start the worker; it loads its models meanwhile (seconds): the app serves at once,
        captions begin when the worker says it is ready (`ready` is set)."""
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mirp.captions.worker", json.dumps(self.config),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self._tasks = [asyncio.create_task(self._run())]

    async def _run(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), self.ready_s)
            ready = json.loads(line)
            self.address = (str(ready["address"][0]), int(ready["address"][1]))
        except (TimeoutError, ValueError, KeyError, TypeError) as exc:
            log.error("captions: the worker did not start (%r): no captions", exc)
            return
        log.info("captions: worker ready at %s:%d", *self.address)
        self.ready.set()
        self._tasks.append(asyncio.create_task(self._poll()))
        await self._read()

    async def _poll(self) -> None:
        while True:
            try:
                self.sync()
            except Exception:
                log.exception("captions: sync failed")
            await asyncio.sleep(self.poll_s)  # a period, not a wait for a state

    def sync(self) -> None:
        """Tell the worker and the plane what is captioned now (when that changed)."""
        wanted = tuple(sorted(set(self.wanted())))
        if wanted == self._sent or self._proc is None or self.address is None:
            return
        assert self._proc.stdin is not None
        keys = [{"key": [feed_of(w).channel, 0, None],
                 "language": None if w.channel == FLOOR else w.channel,
                 "allowed": list(w.languages)} for w in wanted]
        self._proc.stdin.write((json.dumps({"op": "keys", "keys": keys}) + "\n").encode())
        if wanted:
            self.plane.relay_to(LINK, self.address, [feed_of(w) for w in wanted], 0)
        else:
            self.plane.relay_stop(LINK)
        self._sent = wanted

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            try:
                message = json.loads(line)
                if message.get("type") == "dropped":
                    self.dropped += 1
                    continue
                if message.get("type") != "caption":
                    continue
                meeting_id, _, channel = str(message["key"][0]).partition("/")
                heard = Heard(meeting_id, channel, str(message["text"]),
                              str(message["language"]), float(message["start"]),
                              float(message["end"]))
            except (ValueError, KeyError, TypeError, IndexError):
                log.warning("captions: a bad line from the worker: %r", line[:120])
                continue
            try:
                await self.deliver(heard)
                self.delivered += 1
            except Exception:  # a closed room, a database away: this caption is lost, not more
                log.exception("captions: delivery failed")
        log.warning("captions: the worker ended")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            self.plane.relay_stop(LINK)
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(Exception):
                assert proc.stdin is not None
                proc.stdin.write(b'{"op": "stop"}\n')
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
