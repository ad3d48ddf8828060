"""Word error rate: how the tests and the bench judge caption text (one definition for both)."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation; accents kept (they are part of the spelling), an
    apostrophe splits a French elision (l'année -> l année)."""
    text = unicodedata.normalize("NFC", text.lower()).replace("’", "'")
    return [w for token in _WORD.findall(text) for w in token.split("'") if w]


def wer(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / words of the reference, by edit distance."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / len(ref)
