"""One utterance -> its text, with faster-whisper (CTranslate2, int8 on CPU).

Decoding settings that matter on a CPU: `temperature=0` and `condition_on_previous_text=False`
(the defaults fall back through six temperatures on a hard utterance and carry errors from one
utterance to the next: measured 13x slower), no timestamps, no VAD of its own (the Segmenter
already cut the utterance). A segment Whisper itself thinks is no speech is dropped: it is
where Whisper invents text ("Thank you.") out of a breath.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mirp.captions.models import Model
from mirp.captions.segment import Audio

NO_SPEECH = 0.6  # Whisper's own no-speech probability above which ...
LOW_LOGPROB = -1.0  # ... together with a log-probability this low, a segment is invented


@dataclass(frozen=True, slots=True)
class Heard:
    text: str
    language: str
    model: str  # the model that decoded it


class Recognizer:
    """The models, loaded on first use; `decoders` utterances decoded at once per model
    (CTranslate2 releases the GIL: the receiving thread goes on while decodes run)."""

    def __init__(self, models: dict[str, Model], *, beam_size: int = 5, threads: int = 1,
                 decoders: int = 1) -> None:
        self.models = models
        self.beam_size = beam_size
        self.threads = threads
        self.decoders = decoders  # utterances decoded at once (one thread each)
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

    def transcribe(self, audio: Audio, model_name: str, language: str | None,
                   allowed: frozenset[str] = frozenset(),
                   per_language: Mapping[str, str] | None = None) -> Heard | None:
        """The text of `audio` in `language` (None: detect it with `model_name`, among
        `allowed` when given, then decode with the model `per_language` names for it, if any);
        None when nothing was said or the language is one this model cannot do."""
        spec = self.models[model_name]
        model = self._load(model_name)
        if language is None:
            if spec.languages == frozenset({"en"}):
                language = "en"
            else:
                _, _, probs = model.detect_language(audio)
                choices = [(p, lang) for lang, p in probs
                           if (not allowed or lang in allowed) and lang in spec.languages]
                if not choices:
                    return None
                language = max(choices)[1]
                chosen = (per_language or {}).get(language)
                if chosen is not None and chosen in self.models:
                    model_name = chosen
                    spec, model = self.models[chosen], self._load(chosen)
        if language not in spec.languages:
            return None
        segments, _ = model.transcribe(
            audio, language=language, task="transcribe", beam_size=self.beam_size,
            temperature=0.0, condition_on_previous_text=False, without_timestamps=True,
            vad_filter=False)
        words = [s.text.strip() for s in segments
                 if not (s.no_speech_prob > NO_SPEECH and s.avg_logprob < LOW_LOGPROB)]
        text = " ".join(w for w in words if w)
        return Heard(text, language, model_name) if text else None
