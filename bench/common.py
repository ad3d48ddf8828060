"""What the bench's processes share: JSON-line framing, loopback-only ICE, tones, onset detection.

The orchestrator, the server and the client processes talk in JSON lines (one object per line,
each request carries `rid`, each reply echoes it): simple enough to debug with `nc`, and it keeps
the control traffic out of the measured media path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamTrack

RATE = 48_000
FRAME = 960  # 20 ms
PTIME = 0.020

# Onset detector thresholds (dBFS RMS of one decoded 20 ms frame): hysteresis so that a fading
# tail does not count as a second onset.
ON_DB = -35.0
OFF_DB = -50.0


def loopback_only_ice() -> None:
    """Make aioice gather only 127.0.0.1 in this process (it skips loopback by default).

    Both the bench clients and the naive server use it; the engine server uses PeerFactory's own
    loopback mode. Together with `RTCConfiguration(iceServers=[])` nothing leaves the machine.
    """
    import aioice.ice

    def _loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return ["127.0.0.1"]

    aioice.ice.get_host_addresses = _loopback  # type: ignore[assignment]


def rtc_config() -> Any:
    from aiortc import RTCConfiguration

    return RTCConfiguration(iceServers=[])


def pin_to_cpu(cpu: int | None) -> None:
    """Pin this process to one core (the server to core 0, clients to the others) when asked."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return
    # not limited to the inherited mask: the orchestrator pins itself before it starts us
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {cpu})


def raise_fd_limit() -> None:
    """Hundreds of peers mean hundreds of UDP sockets: lift the soft fd limit to the hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds() -> float:
    """User + system CPU of this whole process (all threads), from getrusage."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def rss_kb(pid: int | None = None) -> int:
    """Resident set size from /proc (kB)."""
    path = f"/proc/{pid or os.getpid()}/status"
    with open(path) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of another process from /proc/<pid>/stat (clock ticks -> s)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / ticks


def machine_busy_seconds() -> float:
    """CPU time all cores spent busy (user, nice, system, irq, softirq, steal), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    ticks = [int(x) for x in fields]
    busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + (ticks[7] if len(ticks) > 7
                                                                     else 0)
    return busy / os.sysconf("SC_CLK_TCK")


# -- JSON lines -----------------------------------------------------------------------------------


async def answer_stdin(stats: Callable[[], Awaitable[dict[str, Any]]]) -> None:
    """The JSON-line control of a bench server process: `{"op": "stats", "rid": N}` answers
    `{"rid": N, "ok": true, **await stats()}`, `quit` (or the end of stdin) returns."""
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    out = sys.stdout.buffer
    while True:
        line = await stdin.readline()
        if not line:
            return
        msg = json.loads(line)
        reply: dict[str, Any] = {"rid": msg.get("rid"), "ok": True}
        if msg.get("op") == "stats":
            reply.update(await stats())
        out.write(dumps(reply))
        out.flush()
        if msg.get("op") == "quit":
            return


def dumps(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


class LineRpc:
    """Request/reply over a pair of asyncio streams carrying JSON lines (client side)."""

    def __init__(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self._reader = reader
        self._writer = writer
        self._next = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._task = asyncio.create_task(self._read_loop())
        self.closed_reason: str | None = None

    async def _read_loop(self) -> None:
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                msg = json.loads(line)
                fut = self._pending.pop(int(msg.get("rid", -1)), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
        except Exception as exc:  # report to every waiter below
            self.closed_reason = repr(exc)
        finally:
            self.closed_reason = self.closed_reason or "stream closed"
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(self.closed_reason))
            self._pending.clear()

    async def call(self, op: str, wait_s: float = 120.0, **args: Any) -> dict[str, Any]:
        if self.closed_reason is not None:
            raise ConnectionError(self.closed_reason)
        self._next += 1
        rid = self._next
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self._writer.write(dumps({"rid": rid, "op": op, **args}))
        await self._writer.drain()
        reply = await asyncio.wait_for(fut, wait_s)
        if not reply.get("ok", False):
            raise RuntimeError(f"{op} failed: {reply.get('error')}")
        return reply

    async def close(self) -> None:
        self._task.cancel()
        try:
            self._writer.close()
        except Exception:
            pass


# -- audio ----------------------------------------------------------------------------------------


def tone_frame(tick: int, freq: float, dbfs: float) -> np.ndarray:
    """One 20 ms s16 mono frame of a sine, phase-continuous across ticks."""
    n0 = tick * FRAME
    t = (np.arange(FRAME, dtype=np.float64) + n0) / RATE
    amp = 10.0 ** (dbfs / 20.0) * 32767.0
    return (amp * np.sin(2.0 * math.pi * freq * t)).astype(np.int16)


def make_audio_frame(samples: np.ndarray, tick: int) -> Any:
    import av

    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = RATE
    frame.pts = tick * FRAME
    frame.time_base = Fraction(1, RATE)
    return frame


def frame_db(samples: np.ndarray) -> float:
    x = samples.astype(np.float64)
    if samples.dtype.kind == "i":
        x = x / 32768.0
    rms = math.sqrt(float(np.mean(x * x))) if len(x) else 0.0
    return 20.0 * math.log10(max(rms, 1e-12))


def band_db(samples: np.ndarray, freq: float, width: float = 60.0) -> float:
    """Level (dBFS of a sine's amplitude) within ±width Hz of `freq` in one frame (Hann FFT)."""
    x = samples.astype(np.float64)
    if samples.dtype.kind == "i":
        x = x / 32768.0
    window = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x * window)) * 2.0 / window.sum()
    freqs = np.fft.rfftfreq(len(x), 1.0 / RATE)
    band = spec[(freqs >= freq - width) & (freqs <= freq + width)]
    return 20.0 * math.log10(max(float(band.max()) if len(band) else 0.0, 1e-12))


@dataclass
class OnsetDetector:
    """Decodes Opus payloads and records the times at which the level rises (silence -> tone).

    Used on both ends of a latency measurement (the source's outgoing packets and a listener's
    incoming ones) so the codec's own look-ahead affects both sides alike. With `freq`, only the
    level around that frequency counts (to tell one channel's tone from another's).
    """

    freq: float | None = None
    onsets: list[float] = field(default_factory=list)
    packets: int = 0
    _on: bool = False
    _last: float = 0.0
    _decoder: Any = None

    def feed(self, payload: bytes, when: float) -> None:
        import av

        if self._decoder is None:
            self._decoder = av.CodecContext.create("opus", "r")
        self.packets += 1
        if when - self._last > 3 * PTIME:
            self._on = False  # a channel that sends nothing is silent too
        self._last = when
        try:
            frames = self._decoder.decode(av.Packet(payload))
        except Exception:
            return
        for fr in frames:
            samples = fr.to_ndarray()[0]  # planar float: the first channel
            db = frame_db(samples) if self.freq is None else band_db(samples, self.freq)
            if not self._on and db > ON_DB:
                self._on = True
                self.onsets.append(when)
            elif self._on and db < OFF_DB:
                self._on = False


class PatternTrack(MediaStreamTrack):
    """A paced audio track: a tone always on (`tone`), 200 ms on / 400 ms off (`pulse`), or
    digital silence (`silence`).

    Paced like aiortc's own AudioStreamTrack (the sender does no pacing: recv() sets the timing).
    """

    kind = "audio"

    def __init__(self, pattern: str, freq: float = 1000.0, dbfs: float = -12.0) -> None:
        super().__init__()
        self.pattern, self.freq, self.dbfs = pattern, freq, dbfs
        self._tick = 0
        self._start: float | None = None
        self._silence = np.zeros(FRAME, dtype=np.int16)

    async def recv(self) -> Any:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._tick * PTIME - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        on = self.pattern == "tone" or (self.pattern == "pulse" and (self._tick % 30) < 10)
        samples = tone_frame(self._tick, self.freq, self.dbfs) if on else self._silence
        frame = make_audio_frame(samples, self._tick)
        self._tick += 1
        return frame


def now() -> float:
    """One clock for every process: CLOCK_MONOTONIC is system-wide on Linux."""
    return time.monotonic()


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), p))
