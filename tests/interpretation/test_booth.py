"""Booth rules without a Room: one voice on air, outputs, cough, handover."""

from __future__ import annotations

import pytest

from mirp.errors import Conflict, Forbidden, InvalidInput, NotFound
from mirp.interpretation.booth import Booth
from mirp.interpretation.events import (
    HandoverDeclined,
    HandoverDone,
    HandoverExpired,
    OnAirEnded,
)
from mirp.rooms.model import BoothSpec


def booth(*members: str) -> Booth:
    b = Booth(BoothSpec("fr", retour="en", understands=frozenset({"en"})))
    for m in members:
        b.add(m)
    return b


def test_one_interpreter_on_air_at_a_time() -> None:
    b = booth("a", "b")
    assert b.set_on_air("a", True, 1.0) == []
    with pytest.raises(Conflict):
        b.set_on_air("b", True, 2.0)
    assert b.on_air == "a"
    assert b.set_on_air("b", False, 2.0) == []  # off air when not on air: a no-op
    ended = b.set_on_air("a", False, 5.0)
    assert ended == [OnAirEnded("fr", "a", "fr", 1.0, 5.0)]
    assert b.on_air is None
    b.set_on_air("b", True, 6.0)
    assert b.on_air == "b"


def test_non_member_is_forbidden() -> None:
    b = booth("a")
    with pytest.raises(Forbidden):
        b.set_on_air("x", True, 1.0)


def test_output_switch_splits_the_turn_and_only_on_air_switches() -> None:
    b = booth("a", "b")
    assert b.outputs == ("fr", "en")
    b.set_on_air("a", True, 1.0)
    with pytest.raises(Conflict):
        b.set_output("b", "en", 2.0)
    with pytest.raises(InvalidInput):
        b.set_output("a", "de", 2.0)
    ended = b.set_output("a", "en", 3.0)
    assert ended == [OnAirEnded("fr", "a", "fr", 1.0, 3.0)]
    assert (b.on_air, b.output, b.on_air_since) == ("a", "en", 3.0)
    assert b.set_on_air("a", False, 4.0) == [OnAirEnded("fr", "a", "en", 3.0, 4.0)]


def test_understands_own_languages_and_listed_ones() -> None:
    b = booth()
    assert b.understands("fr") and b.understands("en") and b.understands(None)
    assert not b.understands("de")


def test_cough_only_mutes_the_interpreter_on_air() -> None:
    b = booth("a", "b")
    assert b.set_cough("a", True) is False  # off air: nothing to mute
    b.set_on_air("a", True, 1.0)
    assert b.set_cough("b", True) is False
    assert b.set_cough("a", True) is True and b.coughing
    assert b.set_cough("a", True) is False
    assert b.set_cough("a", False) is True and not b.coughing


@pytest.mark.parametrize("by", ["a", "b"])
def test_handover_started_by_either_partner_moves_the_mic_on_accept(by: str) -> None:
    b = booth("a", "b")
    b.set_on_air("a", True, 1.0)
    other = "b" if by == "a" else "a"
    b.request_handover(by, None, 2.0, 20.0, {"a", "b"})
    assert b.handover is not None and b.handover.next_on_air == "b"
    with pytest.raises(Conflict):
        b.accept_handover(by, 3.0)  # the requester cannot accept their own request
    out = b.accept_handover(other, 3.0)
    assert out == [OnAirEnded("fr", "a", "fr", 1.0, 3.0), HandoverDone("fr", "a", "b")]
    assert (b.on_air, b.on_air_since, b.handover) == ("b", 3.0, None)  # type: ignore[comparison-overlap]


def test_handover_refusals() -> None:
    b = booth("a", "b", "c")
    with pytest.raises(Conflict):  # nobody on air
        b.request_handover("a", "b", 1.0, 20.0, {"a", "b", "c"})
    b.set_on_air("a", True, 1.0)
    with pytest.raises(InvalidInput):  # two partners: say whom
        b.request_handover("a", None, 1.0, 20.0, {"a", "b", "c"})
    with pytest.raises(InvalidInput):
        b.request_handover("a", "a", 1.0, 20.0, {"a", "b", "c"})
    with pytest.raises(NotFound):
        b.request_handover("a", "zz", 1.0, 20.0, {"a", "b", "c"})
    with pytest.raises(Conflict):  # not connected
        b.request_handover("a", "b", 1.0, 20.0, {"a", "c"})
    with pytest.raises(Conflict):  # between two who are both off air
        b.request_handover("b", "c", 1.0, 20.0, {"a", "b", "c"})
    b.request_handover("a", "b", 1.0, 20.0, {"a", "b", "c"})
    with pytest.raises(Conflict):  # one pending at a time
        b.request_handover("c", "a", 2.0, 20.0, {"a", "b", "c"})
    with pytest.raises(Conflict):  # not addressed to c
        b.accept_handover("c", 2.0)


def test_handover_expires_and_late_accept_is_refused() -> None:
    b = booth("a", "b")
    b.set_on_air("a", True, 1.0)
    b.request_handover("a", "b", 1.0, 20.0, {"a", "b"})
    assert b.deadline() == 21.0
    assert b.expire(20.9) == []
    with pytest.raises(Conflict):
        b.accept_handover("b", 21.0)
    assert b.expire(21.0) == [HandoverExpired("fr", "a", "b")]
    assert b.handover is None and b.on_air == "a" and b.deadline() is None


def test_decline_by_target_or_cancel_by_requester() -> None:
    b = booth("a", "b")
    b.set_on_air("a", True, 1.0)
    b.request_handover("b", None, 1.0, 20.0, {"a", "b"})
    assert b.decline_handover("b") == [HandoverDeclined("fr", "b", "a", "b")]  # cancelled
    b.request_handover("b", None, 2.0, 20.0, {"a", "b"})
    assert b.decline_handover("a") == [HandoverDeclined("fr", "b", "a", "a")]  # declined
    with pytest.raises(Conflict):
        b.decline_handover("a")
    assert b.on_air == "a"


def test_removing_the_on_air_member_ends_the_turn_and_the_handover() -> None:
    b = booth("a", "b")
    b.set_on_air("a", True, 1.0)
    b.request_handover("a", "b", 1.0, 20.0, {"a", "b"})
    assert b.remove("a", 4.0) == [OnAirEnded("fr", "a", "fr", 1.0, 4.0)]
    assert b.on_air is None and b.handover is None and b.members == ["b"]


def test_going_on_air_clears_cough_and_a_stale_handover() -> None:
    b = booth("a", "b")
    b.set_on_air("a", True, 1.0)
    b.set_cough("a", True)
    b.set_on_air("a", False, 2.0)
    assert not b.coughing
    b.set_on_air("b", True, 3.0)
    assert not b.coughing
