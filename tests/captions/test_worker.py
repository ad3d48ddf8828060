"""The captioner fed by relay datagrams: the origin's real `Relay` builds them (the seam of
docs/relay.md), the worker's own `Relay` parses them; espeak-ng speech, Whisper from the
packages. In-process for the text (fast); one test runs the worker process over real UDP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mirp.captions.models import resolve
from mirp.captions.recognizer import Recognizer
from mirp.captions.wer import wer
from mirp.captions.worker import Captioner
from mirp.media.plan import FeedKey
from mirp.media.relay import Relay
from tests.captions.speech import CORPUS, SENTENCES, silence, speech
from tests.support.audio import opus_packets

pytestmark = pytest.mark.process  # espeak-ng makes the speech
MODELS = {"en": "tiny.en", "fr": "base", "es": "base"}
CACHE = Path(os.environ.get("MIRP_TEST_CAPTIONS_CACHE", "/tmp/mirp-captions-cache"))
MAX_WER = 0.25


class _Origin:
    """What an origin's Relay needs of its engine when it only sends."""

    tick = 0

    def publish_relayed(self, pts: int, packets: Mapping[FeedKey, bytes]) -> None: ...
    def add_source(self, source_id: str, receiver: Any = None, track: Any = None) -> Any: ...
    def remove_source(self, source_id: str) -> None: ...
    def source_of(self, source_id: str) -> Any: ...
    def forward(self, source_id: str, forward: Any) -> None: ...


def datagrams(feeds: Mapping[FeedKey, np.ndarray], epoch: int = 7) -> list[bytes]:
    """What an origin sends a captioner for these feeds (48 kHz audio each), tick by tick."""
    out: list[bytes] = []
    origin = Relay(_Origin(), send=lambda _addr, data: out.append(data))
    origin.relay_to("captions", ("127.0.0.1", 9), list(feeds), epoch)
    packets = {key: opus_packets(audio) for key, audio in feeds.items()}
    for tick in range(max(len(p) for p in packets.values())):
        origin.publish(tick * 960, {k: p[tick] for k, p in packets.items() if tick < len(p)})
    return out


def spoken(language: str, sentences: dict[str, tuple[str, ...]] = SENTENCES) -> np.ndarray:
    parts = [silence(0.6)]
    for sentence in sentences[language]:
        parts += [speech(language, sentence), silence(1.2)]
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer({n: resolve(n, CACHE) for n in set(MODELS.values())})


def caption(recognizer: Recognizer, language: str, audio: np.ndarray) -> list[str]:
    """Feed `audio` as channel `language` through the relay to a Captioner; the texts decoded."""
    captioner = Captioner(recognizer, dict(MODELS), "base")
    captioner.relay = Relay(captioner)
    key = FeedKey(f"m1/{language}")
    captioner.set_keys([{"key": [key.channel, 0, None], "language": language}])
    jobs = []
    for data in datagrams({key: audio}):
        captioner.relay.received(data)
        while not captioner.jobs.empty():  # taken as they come: the backlog is not under test
            jobs.append(captioner.jobs.get_nowait())
    texts = []
    for job in jobs:
        assert job is not None and job.key == key
        heard = recognizer.transcribe(job.utterance.audio, MODELS[language], language)
        if heard is not None:
            texts.append(heard.text)
    return texts


@pytest.mark.parametrize("language", [
    "en", "es",
    pytest.param("fr", marks=pytest.mark.xfail(strict=True, reason=(
        "espeak-ng's French through Whisper base: WER 0.6-0.9 measured, with every decode "
        "option, window, voice variant and rate tried, and straight from the WAV too: the "
        "model, not the pipeline (docs/captions.md); a larger model by path is the way"))),
])
def test_each_sentence_is_captioned_within_the_word_error_rate(
        recognizer: Recognizer, language: str) -> None:
    texts = caption(recognizer, language, spoken(language, CORPUS))
    reference = " ".join(CORPUS[language])
    score = wer(reference, " ".join(texts))
    print(f"caption_wer {language} {MODELS[language]}: {score:.3f} {texts}")
    assert len(texts) == len(CORPUS[language]), texts
    assert score <= MAX_WER, (score, texts)


def test_silence_gives_no_caption(recognizer: Recognizer) -> None:
    quiet = silence(4.0) + np.random.default_rng(1).normal(0, 0.0005, 4 * 48000).astype(
        np.float32)  # -66 dBFS of hiss: a live channel with nobody speaking
    assert caption(recognizer, "en", quiet) == []


def test_datagrams_of_an_unknown_or_unwanted_feed_are_not_captioned(
        recognizer: Recognizer) -> None:
    captioner = Captioner(recognizer, dict(MODELS), "base")
    captioner.relay = Relay(captioner)
    captioner.set_keys([{"key": ["m1/en", 0, None], "language": "en"}])
    for data in datagrams({FeedKey("m1/es"): spoken("es")}):
        captioner.relay.received(data)
    assert captioner.jobs.empty()
    assert captioner.relay.stats().unwanted > 0


def test_the_worker_process_captions_feeds_relayed_over_udp(tmp_path: Path) -> None:
    config = {"host": "127.0.0.1", "models": {"en": "tiny.en"}, "default_model": "base",
              "cache": str(CACHE)}
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "mirp.captions.worker", json.dumps(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, stderr=log)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["type"] == "ready", ready
        address = (ready["address"][0], int(ready["address"][1]))
        en, es = FeedKey("m1/en"), FeedKey("m1/floor")
        keys = [{"key": ["m1/en", 0, None], "language": "en"},
                {"key": ["m1/floor", 0, None], "language": None, "allowed": ["en", "es"]}]
        proc.stdin.write(json.dumps({"op": "keys", "keys": keys}) + "\n")
        proc.stdin.flush()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # paced at 4x real time: the worker's socket buffer is not what is under test
        for i, data in enumerate(datagrams({en: spoken("en"), es: spoken("es")})):
            sock.sendto(data, address)
            if i % 8 == 7:
                time.sleep(0.01)  # pacing the sender, not waiting for a state
        sock.close()
        got: dict[str, list[dict[str, Any]]] = {"m1/en": [], "m1/floor": []}
        deadline = time.monotonic() + 120
        while sum(map(len, got.values())) < 4 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            message = json.loads(line)
            if message["type"] == "caption":
                got[message["key"][0]].append(message)
        assert [m["language"] for m in got["m1/floor"]] == ["es", "es"], got
        for channel, language in (("m1/en", "en"), ("m1/floor", "es")):
            texts = [m["text"] for m in got[channel]]
            assert wer(" ".join(SENTENCES[language]), " ".join(texts)) <= MAX_WER, texts
            starts = [m["start"] for m in got[channel]]
            assert starts == sorted(starts) and all(m["end"] > m["start"] for m in got[channel])
    finally:
        if proc.stdin:
            proc.stdin.write(json.dumps({"op": "stop"}) + "\n")
            proc.stdin.flush()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()
        log.close()


def test_utterances_decoded_at_once_are_captioned_each_in_its_language(
        recognizer: Recognizer) -> None:
    import av

    def at_16k(x: np.ndarray) -> np.ndarray:
        frame = av.AudioFrame.from_ndarray(x[None, :], format="flt", layout="mono")
        frame.sample_rate = 48000
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in
                               (*resampler.resample(frame), *resampler.resample(None))])

    items = [(at_16k(speech(lang, s)), lang) for lang in ("es", "en") for s in SENTENCES[lang]]
    heard = recognizer.transcribe_batch("base", items)
    assert [h.language if h else None for h in heard] == ["es", "es", "en", "en"], heard
    for lang, got in (("es", heard[:2]), ("en", heard[2:])):
        text = " ".join(h.text for h in got if h)
        assert wer(" ".join(SENTENCES[lang]), text) <= MAX_WER, text
    # a language the model cannot do: no caption, the others unaffected
    english_only = recognizer.transcribe_batch("tiny.en", [items[0], items[2]])
    assert english_only[0] is None and english_only[1] is not None
