"""One utterance -> its text, with Whisper through CTranslate2 (int8 on CPU).

The cost of a Whisper decode is its encoder, and faster-whisper's `transcribe` always runs the
encoder over a 30 s window, the utterance padded with silence: a 3 s utterance paid for 30 s.
Here the window is the utterance plus `pad_s` of silence, rounded up to a whole second (at most
30 s): 3-4x less CPU per second of speech on this CPU (bench/captions.py, docs/captions.md).
Whisper was trained on 30 s windows, so the pad matters: with 1-2 s of silence after the
speech, base sometimes looped on its sentence; with 3 or 5 s (the default) it did not, and the
word error rate stayed within the noise of the 30 s window's. A loop that still happens is cut
to one round (`unrepeat`) and the output is capped by the utterance's length, so a bad decode
costs little. `pad_s` 0 is Whisper's own 30 s window.

The floor's language is detected on the same encoder output as the decode (faster-whisper
would run the encoder twice). Decoding settings that matter: no fallback temperatures
(`temperature=0`), no previous text (`condition_on_previous_text=False`), no timestamps. A
segment Whisper itself thinks is no speech is dropped: it is where Whisper invents text
("Thank you.") out of a breath.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mirp.captions.models import Model
from mirp.captions.segment import RATE, Audio

NO_SPEECH = 0.6  # Whisper's own no-speech probability above which ...
LOW_LOGPROB = -1.0  # ... together with a log-probability this low, a segment is invented
FRAMES_PER_S = 100  # Whisper's mel frames ...
HOP = RATE // FRAMES_PER_S  # ... of 160 samples (10 ms)
WINDOW_FRAMES = 3000  # Whisper's window: 30 s
MAX_TOKENS = 224  # Whisper's decoder length, less its prompt
TOKENS_PER_S = 20  # a generous ceiling of tokens per second of speech, non-Latin scripts too
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Heard:
    text: str
    language: str
    model: str  # the model that decoded it


def window_frames(samples: int, pad_s: float) -> int:
    """The encoder's window (mel frames) for an utterance of `samples` at 16 kHz: the utterance
    and `pad_s` of silence after it, rounded up to whole seconds, at most Whisper's 30 s;
    `pad_s` <= 0: always 30 s."""
    if pad_s <= 0:
        return WINDOW_FRAMES
    seconds = math.ceil(samples / RATE + pad_s)
    return min(WINDOW_FRAMES, seconds * FRAMES_PER_S)


def max_tokens(samples: int) -> int:
    """How many tokens an utterance this long may decode to (a looping decode stops there)."""
    return min(MAX_TOKENS, 16 + math.ceil(samples / RATE * TOKENS_PER_S))


def unrepeat(text: str) -> str:
    """`text` said once when it is one sentence said again and again (a looping decode, its
    last round perhaps cut short); any other text unchanged."""
    spans = [m.span() for m in _WORD.finditer(text)]
    words = [text[a:b].lower() for a, b in spans]
    for period in range(3, len(words) // 2 + 1):
        if all(words[i] == words[i % period] for i in range(period, len(words))):
            return text[:spans[period][0]].rstrip()  # the first round, with its stop
    return text


class Recognizer:
    """The models, loaded on first use; `decoders` utterances decoded at once per model
    (CTranslate2 releases the GIL: the receiving thread goes on while decodes run)."""

    def __init__(self, models: dict[str, Model], *, beam_size: int = 5, threads: int = 1,
                 decoders: int = 1, pad_s: float = 5.0) -> None:
        self.models = models
        self.beam_size = beam_size
        self.threads = threads
        self.decoders = decoders  # utterances decoded at once (one thread each)
        self.pad_s = pad_s  # silence after the utterance in the encoder's window (s)
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _load(self, name: str) -> Any:
        with self._lock:
            model = self._loaded.get(name)
            if model is None:
                from faster_whisper import WhisperModel  # heavy: only in the worker

                model = self._loaded[name] = WhisperModel(
                    str(self.models[name].path), device="cpu", compute_type="int8",
                    cpu_threads=self.threads, num_workers=self.decoders)
            return model

    def warm(self) -> None:
        for name in self.models:
            self._load(name)

    def _encode(self, model: Any, audios: Sequence[Audio]) -> Any:
        """One encoder call over the utterances, each in the window of the longest."""
        import ctranslate2

        frames = max(window_frames(a.size, self.pad_s) for a in audios)
        windows = []
        for audio in audios:
            # the silence is padded as audio, as Whisper was trained (its mel of silence), not
            # as zero features as faster-whisper does: a point or two less WER on Spanish
            padded = np.zeros(frames * HOP, dtype=np.float32)
            used = min(audio.size, padded.size)
            padded[:used] = audio[:used]
            windows.append(model.feature_extractor(padded)[:, :frames])
        return model.model.encode(ctranslate2.StorageView.from_array(
            np.ascontiguousarray(np.stack(windows), dtype=np.float32)))

    def transcribe(self, audio: Audio, model_name: str, language: str | None,
                   allowed: frozenset[str] = frozenset(),
                   per_language: Mapping[str, str] | None = None) -> Heard | None:
        """The text of `audio` in `language` (None: detect it with `model_name`, among
        `allowed` when given, then decode with the model `per_language` names for it, if any);
        None when nothing was said or the language is one this model cannot do."""
        spec = self.models[model_name]
        model = self._load(model_name)
        encoded = None
        if language is None:
            if spec.languages == frozenset({"en"}):
                language = "en"
            else:
                encoded = self._encode(model, [audio])
                probs = model.model.detect_language(encoded)[0]
                choices = [(p, lang) for token, p in probs
                           if ((lang := token[2:-2]) in allowed or not allowed)
                           and lang in spec.languages]
                if not choices:
                    return None
                language = max(choices)[1]
                chosen = (per_language or {}).get(language)
                if chosen is not None and chosen in self.models and chosen != model_name:
                    model_name, encoded = chosen, None
                    spec, model = self.models[chosen], self._load(chosen)
        if language not in spec.languages:
            return None
        if encoded is None:
            encoded = self._encode(model, [audio])
        text = self._decode(model, encoded, [language], [audio.size])[0]
        return Heard(text, language, model_name) if text else None

    def transcribe_batch(self, model_name: str, items: Sequence[tuple[Audio, str]]
                         ) -> list[Heard | None]:
        """Utterances of known languages, each `(audio, language)`, decoded by one model at once:
        one encoder call for all (with four, 25 % less CPU than one by one on this CPU), one
        generation with a prompt each. None where nothing was said or the model cannot do
        the language."""
        spec = self.models[model_name]
        model = self._load(model_name)
        able = [i for i, (_, language) in enumerate(items) if language in spec.languages]
        out: list[Heard | None] = [None] * len(items)
        if not able:
            return out
        audios = [items[i][0] for i in able]
        languages = [items[i][1] for i in able]
        texts = self._decode(model, self._encode(model, audios), languages,
                             [a.size for a in audios])
        for i, language, text in zip(able, languages, texts, strict=True):
            out[i] = Heard(text, language, model_name) if text else None
        return out

    def _decode(self, model: Any, encoded: Any, languages: Sequence[str],
                samples: Sequence[int]) -> list[str]:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        multilingual = bool(model.model.is_multilingual)
        tokenizers = [Tokenizer(model.hf_tokenizer, multilingual, task="transcribe",
                                language=language if multilingual else None)
                      for language in languages]
        prompts = [[*t.sot_sequence, t.no_timestamps] for t in tokenizers]
        caps = [max_tokens(n) for n in samples]
        results = model.model.generate(
            encoded, prompts, beam_size=self.beam_size,
            max_length=max(len(p) for p in prompts) + max(caps), return_scores=True,
            return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizers[0], [-1])))
        texts = []
        for result, tokenizer, cap in zip(results, tokenizers, caps, strict=True):
            tokens = result.sequences_ids[0][:cap]
            # the mean log-probability per token, as Whisper computes it
            logprob = result.scores[0] * len(result.sequences_ids[0]) / (
                len(result.sequences_ids[0]) + 1)
            if result.no_speech_prob > NO_SPEECH and logprob < LOW_LOGPROB:
                texts.append("")
            else:
                texts.append(unrepeat(str(tokenizer.decode(tokens)).strip()))
        return texts
