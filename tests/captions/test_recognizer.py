"""The recognizer's own rules (captions/recognizer.py), without a model: the encoder's window
follows the utterance, a looping decode is cut to one round, and the output is capped by the
utterance's length."""

from __future__ import annotations

from mirp.captions.recognizer import (
    MAX_TOKENS,
    WINDOW_FRAMES,
    max_tokens,
    unrepeat,
    window_frames,
)
from mirp.captions.segment import RATE


def test_the_window_is_the_utterance_and_its_pad_in_whole_seconds() -> None:
    assert window_frames(3 * RATE, 5.0) == 800
    assert window_frames(3 * RATE + 1, 5.0) == 900  # rounded up, never cut
    assert window_frames(2 * RATE, 0.5) == 300


def test_the_window_is_at_most_whisper_s_and_pad_zero_is_whisper_s() -> None:
    assert window_frames(28 * RATE, 5.0) == WINDOW_FRAMES
    assert window_frames(RATE, 0.0) == WINDOW_FRAMES


def test_a_looping_decode_is_said_once() -> None:
    said = "The delegation of Kenya has asked for the floor."
    assert unrepeat(f"{said} {said}") == said
    assert unrepeat(f"{said} {said} {said} The delegation of") == said
    assert unrepeat("Interpretation is a sick meeting Interpretation is a sick meeting") == (
        "Interpretation is a sick meeting")


def test_text_that_does_not_loop_is_unchanged() -> None:
    for text in ("Please send the report to every delegation before Friday.",
                 "No, no, no.", "We vote. We vote again.", ""):
        assert unrepeat(text) == text


def test_the_output_is_capped_by_the_utterance_s_length() -> None:
    assert max_tokens(RATE) < max_tokens(5 * RATE) < MAX_TOKENS
    assert max_tokens(60 * RATE) == MAX_TOKENS
