"""The captioner process: `python -m mirp.captions.worker '<config JSON>'`.

Why a process of its own: a Whisper decode takes a few hundred ms of CPU; on the media loop it
would break the 20 ms clock, on the app's loop it would stall every request. Here an asyncio
loop receives the relayed feeds (media/relay.py's `Relay`, the same parser, fencing and loss
accounting as an edge), decodes Opus and cuts utterances as packets arrive (~0.1 ms each), and
`decoders` threads decode the utterances (those waiting together at once, per model), the
oldest dropped when they fall behind.

Pipes (JSON lines; docs/captions.md):
- stdin, from the app: `{"op": "keys", "keys": [{"key": [channel, level, minus], "language":
  "fr" | null, "allowed": [...]}]}` (what to caption: replaces the last set; language null: detect,
  among `allowed`), `{"op": "stop"}`.
- stdout, to the app: `{"type": "ready", "address": [host, port]}` once the UDP socket is bound,
  then `{"type": "caption", "key": [...], "text", "language", "start", "end", "final": true,
  "model", "decode_s", "wait_s", "batch"}` per utterance, and `{"type": "dropped",
  "key": [...]}` when one was dropped because the decoder fell behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from mirp.captions.models import Model, model_for, resolve
from mirp.captions.recognizer import Recognizer
from mirp.captions.segment import RATE, Segmenter, Utterance
from mirp.media.plan import FeedKey
from mirp.media.relay import Relay

log = logging.getLogger("mirp.captions.worker")
FRAME_S = 0.02
BACKLOG = 8  # utterances waiting for the decoders; past that the oldest is dropped
BATCH = 4  # utterances waiting together decoded at once (one encoder call: 25 % less CPU)
IDLE_S = 2.0  # no packet of a feed for this long: it stopped (a stall of the sender is shorter)


@dataclass(frozen=True, slots=True)
class Job:
    key: FeedKey
    utterance: Utterance
    queued: float


@dataclass(slots=True)
class _Feed:
    language: str | None
    allowed: frozenset[str]
    decoder: Any
    resampler: Any
    segmenter: Segmenter
    last: float = 0.0


def key_of(value: Any) -> FeedKey:
    channel, level, minus = value
    return FeedKey(str(channel), int(level), None if minus is None else str(minus))


def key_wire(key: FeedKey) -> list[Any]:
    return [key.channel, key.under_level_db, key.minus]


@dataclass
class Captioner:
    """The receiving side (on the loop) and the decoding thread of one worker."""

    recognizer: Recognizer
    per_language: dict[str, str]
    default_model: str
    segmenter: dict[str, Any] = field(default_factory=dict)
    emit_lock: threading.Lock = field(default_factory=threading.Lock)
    feeds: dict[FeedKey, _Feed] = field(default_factory=dict)
    jobs: queue.Queue[Job | None] = field(default_factory=lambda: queue.Queue(BACKLOG))
    relay: Relay | None = None
    started: float = field(default_factory=time.monotonic)

    # ---- what Relay needs of an engine (media/relay.py Fanning): a clock and a publish
    @property
    def tick(self) -> int:
        return int((time.monotonic() - self.started) / FRAME_S)

    def add_source(self, source_id: str, receiver: Any = None, track: Any = None) -> Any:
        return None

    def remove_source(self, source_id: str) -> None:
        return None

    def source_of(self, source_id: str) -> Any:
        return None

    def forward(self, source_id: str, forward: Any) -> None:
        return None

    def publish_relayed(self, pts: int, packets: Mapping[FeedKey, bytes]) -> None:
        now = time.time()
        for key, payload in packets.items():
            feed = self.feeds.get(key)
            if feed is None or not payload:
                continue
            feed.last = now
            try:
                frames = feed.decoder.decode(av.Packet(payload))
            except av.FFmpegError:
                continue
            for frame in frames:
                for out in feed.resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    done = feed.segmenter.push(pcm, now)
                    if done is not None:
                        self.queue(key, done)

    # ---- control
    def set_keys(self, wanted: list[dict[str, Any]]) -> None:
        keys: dict[FeedKey, _Feed] = {}
        for item in wanted:
            key = key_of(item["key"])
            language = item.get("language")
            allowed = frozenset(str(a) for a in item.get("allowed", ()))
            old = self.feeds.get(key)
            if old is not None and old.language == language and old.allowed == allowed:
                keys[key] = old
                continue
            decoder = av.CodecContext.create("libopus", "r")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            keys[key] = _Feed(language, allowed, decoder, resampler,
                              Segmenter(**self.segmenter))
        self.feeds = keys
        if self.relay is not None:
            self.relay.relay_accept(list(keys))

    def idle_flush(self) -> None:
        """A feed that stopped sending mid-utterance: what was said is captioned anyway. Not
        sooner than IDLE_S: the origin sends every 20 ms, silence included, so a shorter gap is
        a stall of a busy machine, and cutting there would split a sentence in two."""
        now = time.time()
        for key, feed in list(self.feeds.items()):
            if feed.segmenter.open and now - feed.last > IDLE_S:
                done = feed.segmenter.flush()
                if done is not None:
                    self.queue(key, done)

    def queue(self, key: FeedKey, utterance: Utterance) -> None:
        job = Job(key, utterance, time.time())
        while True:
            try:
                self.jobs.put_nowait(job)
                return
            except queue.Full:
                try:
                    old = self.jobs.get_nowait()
                except queue.Empty:
                    continue
                if old is not None:
                    self.emit({"type": "dropped", "key": key_wire(old.key)})

    # ---- the decoding thread
    def decode_forever(self) -> None:
        while True:
            jobs, stop = self.take()
            for name, batch in self.batches(jobs):
                began = time.time()
                try:
                    if len(batch) == 1 and batch[0][1].language is None:  # detect: the floor
                        job, feed = batch[0]
                        heard = [self.recognizer.transcribe(
                            job.utterance.audio, name, None, feed.allowed, self.per_language)]
                    else:
                        heard = self.recognizer.transcribe_batch(name, [
                            (job.utterance.audio, str(feed.language)) for job, feed in batch])
                except Exception:
                    log.exception("captions: a decode failed")
                    continue
                for (job, _), h in zip(batch, heard, strict=True):
                    if h is not None:
                        self.emit({"type": "caption", "key": key_wire(job.key), "text": h.text,
                                   "language": h.language, "start": job.utterance.start,
                                   "end": job.utterance.end, "final": True, "model": h.model,
                                   "decode_s": time.time() - began, "wait_s": began - job.queued,
                                   "batch": len(batch)})
            if stop:
                return

    def take(self) -> tuple[list[Job], bool]:
        """The next job and those waiting behind it, up to BATCH (decoded together); True when
        the worker is stopping."""
        jobs: list[Job] = []
        job = self.jobs.get()
        while job is not None:
            jobs.append(job)
            if len(jobs) >= BATCH:
                return jobs, False
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return jobs, False
        return jobs, True

    def batches(self, jobs: list[Job]) -> list[tuple[str, list[tuple[Job, _Feed]]]]:
        """Jobs grouped by model, in order of their first job; a floor's (its language to be
        detected) alone."""
        groups: dict[str, list[tuple[Job, _Feed]]] = {}
        out: list[tuple[str, list[tuple[Job, _Feed]]]] = []
        for job in jobs:
            feed = self.feeds.get(job.key)
            if feed is None:
                continue
            name = model_for(feed.language, self.per_language, self.default_model)
            if feed.language is None:
                out.append((name, [(job, feed)]))
            elif name in groups:
                groups[name].append((job, feed))
            else:
                groups[name] = [(job, feed)]
                out.append((name, groups[name]))
        return out

    def emit(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, ensure_ascii=False)
        with self.emit_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


async def serve(config: dict[str, Any]) -> None:
    cache = Path(config.get("cache", "./data/captions"))
    per_language: dict[str, str] = dict(config.get("models", {}))
    default = str(config.get("default_model", "base"))
    models: dict[str, Model] = {}
    for name in {default, *per_language.values()}:
        models[name] = resolve(name, cache)
    recognizer = Recognizer(models, beam_size=int(config.get("beam_size", 5)),
                            threads=int(config.get("threads", 1)),
                            decoders=max(1, int(config.get("decoders", 1))),
                            pad_s=float(config.get("window_pad_s", 5.0)))
    captioner = Captioner(recognizer, per_language, default,
                          segmenter=dict(config.get("segmenter", {})))
    relay = captioner.relay = Relay(captioner)
    address = await relay.listen(str(config.get("host", "127.0.0.1")), int(config.get("port", 0)))
    if config.get("warm", True):
        await asyncio.to_thread(recognizer.warm)
    count = max(1, int(config.get("decoders", 1)))
    decoders = [threading.Thread(target=captioner.decode_forever, name=f"whisper-{i}",
                                 daemon=True) for i in range(count)]
    for decoder in decoders:
        decoder.start()
    captioner.emit({"type": "ready", "address": list(address),
                    "models": {n: sorted(m.languages) for n, m in models.items()}})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def flusher() -> None:
        while True:
            await asyncio.sleep(0.1)
            captioner.idle_flush()

    flushing = asyncio.create_task(flusher())
    try:
        while line := await reader.readline():
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("captions: not JSON on stdin: %r", line[:80])
                continue
            if message.get("op") == "keys":
                captioner.set_keys(list(message.get("keys", [])))
            elif message.get("op") == "stop":
                break
    finally:
        flushing.cancel()
        relay.close()
        for _ in decoders:
            captioner.jobs.put(None)
        for decoder in decoders:
            decoder.join(timeout=30)


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # a line per utterance
    config = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    asyncio.run(serve(config))


if __name__ == "__main__":
    main()
