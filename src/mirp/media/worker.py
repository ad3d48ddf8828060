"""The media process: `python -m mirp.media.worker <fd>`, started by media/process.py.

It runs a LocalPlane (engine, clock, peers) on its own event loop and speaks media/wire.py over
the socket inherited as file descriptor `fd`. Nothing else runs here, so nothing can delay the
clock. It exits when the socket reaches its end (the control process closed it or died: no
orphan keeps the UDP ports), and asks the kernel to kill it if the parent dies regardless.
Bad input from the control side (unknown peer, malformed SDP) is answered with a typed error;
the process keeps running.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
from dataclasses import asdict
from typing import Any

from mirp.errors import InvalidInput, MirpError
from mirp.media import wire
from mirp.media.local import LocalPlane
from mirp.media.plane import MediaEvent, PlaneConfig

log = logging.getLogger("mirp.media.worker")
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent goes, even if the socket were shared."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before the call: do not linger
        os._exit(0)


def _raise_priority(boost: int) -> None:
    if boost <= 0:
        return
    try:
        os.nice(-boost)
    except OSError as exc:  # no CAP_SYS_NICE: the parent's priority it is
        log.info("media worker: priority not raised (%s)", exc)


class Worker:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.plane: LocalPlane | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, message: wire.Message) -> None:
        if not self.writer.is_closing():
            self.writer.write(wire.encode(message))

    def _on_event(self, event: MediaEvent) -> None:
        self.send(event)

    async def serve(self) -> None:
        try:
            while True:
                try:
                    message = await wire.read_message(self.reader)
                except wire.BadMessage as exc:
                    log.error("media worker: %s; skipped", exc)
                    continue
                if message is None:
                    break
                self.dispatch(message)
        finally:
            for task in self._tasks:
                task.cancel()
            if self.plane is not None:
                await self.plane.close()

    def dispatch(self, message: wire.Message) -> None:
        if isinstance(message, wire.Configure):
            self._spawn(self._configure(message.config))
            return
        plane = self.plane
        if plane is None:
            log.error("media worker: %s before Configure; ignored", type(message).__name__)
            return
        try:
            if isinstance(message, wire.Offer):
                try:  # begun now, in stream order; the handshake runs in a task
                    session = plane.begin_offer(message.peer_id, int(message.generation))
                except MirpError as exc:
                    self.send(wire.Reply(message.rid, None, exc.to_dict()))
                    return
                self._spawn(self._answer(message.rid, plane.complete_offer(
                    message.peer_id, session, message.sdp)))
            elif isinstance(message, wire.AddCandidate):
                self._spawn(self._answer(message.rid, plane.candidate(
                    message.peer_id, message.candidate)))
            elif isinstance(message, wire.GetStats):
                self._spawn(self._answer(message.rid, self._stats(plane)))
            elif isinstance(message, wire.ClosePeer):
                plane.close_peer(message.peer_id)
            elif isinstance(message, wire.Apply):
                plane.apply(message.plan())
            elif isinstance(message, wire.Listen):
                plane.listen(message.peer_id, wire.key_from_wire(message.key))
            elif isinstance(message, wire.Unlisten):
                plane.unlisten(message.peer_id)
            elif isinstance(message, wire.RelayListen):
                self._spawn(self._answer(message.rid, self._relay_listen(
                    plane, str(message.host), int(message.port))))
            elif isinstance(message, wire.RelayAccept):
                plane.relay_accept([wire.key_from_wire(k) for k in message.keys],
                                   [str(s) for s in message.sources])
            elif isinstance(message, wire.RelayTo):
                plane.relay_to(str(message.link_id), (str(message.host), int(message.port)),
                               [wire.key_from_wire(k) for k in message.keys],
                               int(message.epoch), [str(s) for s in message.sources],
                               [str(v) for v in message.videos],
                               [str(v) for v in message.video_from])
            elif isinstance(message, wire.RelayStop):
                plane.relay_stop(str(message.link_id))
            else:
                log.error("media worker: unexpected %s", type(message).__name__)
        except (ValueError, TypeError, KeyError, IndexError, MirpError) as exc:
            log.error("media worker: bad %s: %s", type(message).__name__, exc)
        except Exception:
            log.exception("media worker: %s failed", type(message).__name__)

    async def _configure(self, values: dict[str, Any]) -> None:
        config = PlaneConfig(**{**values, "ice_servers": tuple(values.get("ice_servers", ()))})
        _raise_priority(config.priority_boost)
        plane = LocalPlane(config)
        plane.on_event = self._on_event
        await plane.start()
        self.plane = plane
        # everything alive now (modules of aiortc, av, numpy...) lives as long as the process:
        # out of the cyclic collector's sight, a full collection (a pause of the clock) is shorter
        gc.freeze()
        self.send(wire.Ready(os.getpid(), plane.self_check.to_wire()))

    @staticmethod
    async def _stats(plane: LocalPlane) -> dict[str, Any]:
        stats = await plane.stats()
        return {"engine": asdict(stats.engine), "peers": stats.peers,
                "self_check": plane.self_check.to_wire(), "relay": stats.relay.to_wire(),
                "video": stats.video}

    @staticmethod
    async def _relay_listen(plane: LocalPlane, host: str, port: int) -> list[Any]:
        return list(await plane.relay_listen(host, port))

    async def _answer(self, rid: int, work: Any) -> None:
        try:
            result = await work
        except MirpError as exc:
            self.send(wire.Reply(rid, None, exc.to_dict()))
        except (ValueError, TypeError, KeyError) as exc:
            error = InvalidInput(f"refused by the media plane: {type(exc).__name__}: {exc}")
            self.send(wire.Reply(rid, None, error.to_dict()))
        except Exception as exc:
            log.exception("media worker: request %d failed", rid)
            self.send(wire.Reply(rid, None, MirpError(f"media error: {type(exc).__name__}")
                                 .to_dict()))
        else:
            self.send(wire.Reply(rid, result, None))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def amain(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    await Worker(reader, writer).serve()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    _die_with_parent()
    logging.basicConfig(level=os.environ.get("MIRP_MEDIA_LOG_LEVEL", "WARNING").upper(),
                        format="%(asctime)s media[%(process)d] %(levelname)s %(name)s: "
                               "%(message)s", stream=sys.stderr)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent
    asyncio.run(amain(int(args[0])))  # closes the socket, and that is when we stop


if __name__ == "__main__":
    main()
