"""Utterances by energy (captions/segment.py), and a feed that stops mid-sentence (worker.py):
pure numbers, no process, no model."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mirp.captions.models import Model
from mirp.captions.recognizer import Recognizer
from mirp.captions.segment import FRAME, Segmenter, Utterance
from mirp.captions.worker import IDLE_S, Captioner
from mirp.media.plan import FeedKey

LOUD = (0.1 * np.sin(np.arange(FRAME) * 0.3)).astype(np.float32)  # about -23 dBFS
QUIET = np.zeros(FRAME, dtype=np.float32)


def feed(seg: Segmenter, frames: list[np.ndarray]) -> list[tuple[float, float, int]]:
    out = []
    for i, f in enumerate(frames):
        u = seg.push(f, i * 0.02)
        if u is not None:
            out.append((round(u.start, 2), round(u.end, 2), len(u.audio) // FRAME))
    return out


def test_an_utterance_opens_on_voice_with_its_pre_roll_and_closes_after_the_hang() -> None:
    seg = Segmenter()
    got = feed(seg, [QUIET] * 20 + [LOUD] * 50 + [QUIET] * 40)
    # opened at frame 22 (3 voiced) with 10 + 3 frames before it; closed 600 ms after frame 69
    assert got == [(round(20 * 0.02 - 10 * 0.02, 2), round(69 * 0.02, 2), 13 + 47 + 30)]


def test_a_click_is_no_utterance_and_silence_none_at_all() -> None:
    assert feed(Segmenter(), [QUIET] * 10 + [LOUD] * 5 + [QUIET] * 60) == []
    assert feed(Segmenter(), [QUIET] * 500) == []


def test_a_long_speech_is_cut_every_max_s() -> None:
    got = feed(Segmenter(max_s=2.0), [LOUD] * 250)
    assert len(got) == 2 and all(n == 100 for *_, n in got)


def test_a_feed_that_stops_mid_sentence_is_captioned_after_idle_s() -> None:
    captioner = Captioner(Recognizer({"x": Model("x", Path("."),
                                                 frozenset({"en"}))}), {}, "x")
    captioner.set_keys([{"key": ["m1/floor", 0, None], "language": "en"}])
    state = captioner.feeds[FeedKey("m1/floor")]
    for i in range(40):
        assert state.segmenter.push(LOUD, 100.0 + i * 0.02) is None
    state.last = time.time() - IDLE_S / 2  # a stall, not a stop
    captioner.idle_flush()
    assert captioner.jobs.empty()
    state.last -= IDLE_S
    captioner.idle_flush()
    job = captioner.jobs.get_nowait()
    assert job is not None and job.key == FeedKey("m1/floor")
    assert len(job.utterance.audio) == 40 * FRAME


def test_utterances_waiting_together_are_taken_at_once_and_grouped_by_model() -> None:
    models = {n: Model(n, Path("."), frozenset({"en"})) for n in ("tiny.en", "base")}
    captioner = Captioner(Recognizer(models), {"en": "tiny.en"}, "base")
    captioner.set_keys([{"key": [f"m1/{c}", 0, None], "language": None if c == "floor" else c}
                        for c in ("floor", "es", "fr", "en")])
    utterance = Utterance(np.zeros(FRAME, np.float32), 1.0, 2.0)
    for channel in ("floor", "es", "en", "fr", "es", "fr"):
        captioner.queue(FeedKey(f"m1/{channel}"), utterance)
    jobs, stop = captioner.take()
    assert not stop and [j.key.channel for j in jobs] == ["m1/floor", "m1/es", "m1/en", "m1/fr"]
    grouped = [(name, [job.key.channel for job, _ in batch])
               for name, batch in captioner.batches(jobs)]
    # the floor alone (its language is detected), the others by model, in order of arrival
    assert grouped == [("base", ["m1/floor"]), ("base", ["m1/es", "m1/fr"]),
                       ("tiny.en", ["m1/en"])]
    captioner.jobs.put(None)  # the stop behind the last two
    jobs, stop = captioner.take()
    assert stop and [j.key.channel for j in jobs] == ["m1/es", "m1/fr"]
