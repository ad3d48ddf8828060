"""Every command from every role: allowed ones work, the others are refused (Forbidden) and
change nothing. rooms/actions.py is the one place roles are checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import pytest

from mirp.errors import Forbidden, InvalidInput, NotFound
from mirp.rooms import commands as c
from mirp.rooms.actions import MAY
from mirp.rooms.model import MeetingStatus, Role
from tests.rooms.kit import Kit

ACTOR = {
    Role.CHAIR: "ch",
    Role.ORGANIZER: "org",
    Role.DELEGATE: "d1",
    Role.OBSERVER: "ob",
    Role.INTERPRETER: "fr1",
    Role.ROOM: "hall",
}
EVERYONE = frozenset(Role)
PRESIDING = frozenset({Role.CHAIR, Role.ORGANIZER})
FLOOR_ROLES = frozenset({Role.CHAIR, Role.DELEGATE})
INTERPRETER = frozenset({Role.INTERPRETER})


@dataclass(frozen=True)
class Case:
    command: c.Command
    allowed: frozenset[Role]
    setup: Callable[[Kit], object] = lambda k: None
    check: Callable[[Kit, str], bool] = lambda k, actor: True


def _both_request(k: Kit) -> None:
    k.do("d1", c.FloorRequest())
    k.do("ch", c.FloorRequest())


def _fr1_on_air(k: Kit) -> None:
    k.do("fr1", c.OnAir(True))


def _fr2_offers(k: Kit) -> None:
    k.do("fr2", c.OnAir(True))
    k.do("fr2", c.HandoverRequest("fr1"))


def _scheduled(k: Kit) -> None:
    k.room.status = MeetingStatus.SCHEDULED


CASES = {
    "subscribe": Case(c.Subscribe("de", -12), EVERYONE, check=lambda k, a: k.channel(a) == "de"),
    "quality": Case(
        c.Quality("poor", 0.18, 0.009, 0.02),
        EVERYONE,
        check=lambda k, a: k.room.participants[a].grade == "poor",
    ),
    "video_set": Case(
        c.VideoSet(on=False), EVERYONE,
        check=lambda k, a: k.room.participants[a].view()["video"] is False
    ),
    "leave": Case(c.Leave(), EVERYONE, check=lambda k, a: a not in k.room.participants),
    "floor_request": Case(
        c.FloorRequest(), FLOOR_ROLES, check=lambda k, a: k.room.floor.position(a) == 0
    ),
    "floor_withdraw": Case(
        c.FloorWithdraw(),
        FLOOR_ROLES,
        _both_request,
        check=lambda k, a: k.room.floor.position(a) is None,
    ),
    "floor_give": Case(
        c.FloorGive("d2"), PRESIDING, check=lambda k, a: "d2" in k.room.floor.holders
    ),
    "floor_take": Case(
        c.FloorTake("d2"),
        PRESIDING,
        lambda k: k.do("ch", c.FloorGive("d2")),
        check=lambda k, a: not k.room.floor.holders,
    ),
    "speakers_reorder": Case(
        c.SpeakersReorder(("ch", "d1")),
        PRESIDING,
        _both_request,
        check=lambda k, a: [r.participant_id for r in k.room.floor.speakers] == ["ch", "d1"],
    ),
    "floor_time_limit": Case(
        c.FloorTimeLimit(60), PRESIDING, check=lambda k, a: k.room.floor.time_limit_s == 60
    ),
    "participant_mute": Case(
        c.ParticipantMute("d2"),
        PRESIDING,
        lambda k: k.do("ch", c.FloorGive("d2")),
        check=lambda k, a: k.room.floor.holders["d2"].muted,
    ),
    "floor_language": Case(
        c.FloorLanguage("fr"), PRESIDING, check=lambda k, a: k.room.floor_language == "fr"
    ),
    "floor_room": Case(
        c.FloorRoom("remote"), PRESIDING, check=lambda k, a: k.room.floor.room_mode == "remote"
    ),
    "participant_language": Case(
        c.ParticipantLanguage("de", "d2"),
        PRESIDING,
        check=lambda k, a: k.room.participants["d2"].language == "de",
    ),
    "meeting_open": Case(
        c.MeetingOpen(),
        PRESIDING,
        _scheduled,
        check=lambda k, a: k.room.status is MeetingStatus.OPEN,
    ),
    "meeting_close": Case(c.MeetingClose(), PRESIDING, check=lambda k, a: k.room.closed),
    "participant_remove": Case(
        c.ParticipantRemove("d2"), PRESIDING, check=lambda k, a: "d2" in k.room.removed
    ),
    "on_air": Case(c.OnAir(True), INTERPRETER, check=lambda k, a: k.room.booths["fr"].on_air == a),
    "console_output": Case(
        c.ConsoleOutput("en"), INTERPRETER, check=lambda k, a: k.room.booths["fr"].output == "en"
    ),
    "cough": Case(
        c.Cough(True), INTERPRETER, _fr1_on_air, check=lambda k, a: k.room.booths["fr"].coughing
    ),
    "handover_request": Case(
        c.HandoverRequest("fr2"),
        INTERPRETER,
        _fr1_on_air,
        check=lambda k, a: k.room.booths["fr"].handover is not None,
    ),
    "handover_accept": Case(
        c.HandoverAccept(),
        INTERPRETER,
        _fr2_offers,
        check=lambda k, a: k.room.booths["fr"].on_air == "fr1",
    ),
    "handover_decline": Case(
        c.HandoverDecline(),
        INTERPRETER,
        _fr2_offers,
        check=lambda k, a: k.room.booths["fr"].handover is None,
    ),
    "booth_chat": Case(c.BoothChat("mic check"), INTERPRETER),
    "slow_down": Case(c.SlowDown(), INTERPRETER),
}


def test_every_command_type_has_a_case() -> None:
    assert set(CASES) == set(c.COMMAND_TYPES)


def test_the_table_of_who_may_is_the_one_this_matrix_checks() -> None:
    """rooms/actions.py's MAY names every command class, with the roles tested here."""
    assert set(MAY) == set(c.COMMAND_TYPES.values())
    # participant_language: the table lets the floor roles through to set their own language;
    # the matrix's case sets another's, which only the presiding roles may (actions.py checks)
    wider = {"participant_language": FLOOR_ROLES | PRESIDING | {Role.ROOM}}
    assert {cls.type: roles for cls, (roles, _) in MAY.items()} == {
        name: wider.get(name, case.allowed) for name, case in CASES.items()
    }


def test_a_delegate_sets_its_own_language_but_not_another_s() -> None:
    k = Kit(None, None, "ch", "d1", "d2")
    k.do("d1", c.ParticipantLanguage("de"))
    assert k.room.participants["d1"].language == "de"
    before = k.room.participants["d2"].language
    k.refuse("d1", c.ParticipantLanguage("de", "d2"), Forbidden)
    assert k.room.participants["d2"].language == before != "de"


@dataclass(frozen=True, slots=True)
class _Unknown(c.Command):
    type: ClassVar[str] = "floor_request"  # a known wire name on a class the Room does not know


def test_a_command_class_the_room_does_not_know_is_refused() -> None:
    k = Kit(None, None, "ch", "d1")
    err = k.refuse("d1", _Unknown(), NotFound)
    assert "no such command" in err.message


@pytest.mark.parametrize("role", list(ACTOR), ids=str)
@pytest.mark.parametrize("name", sorted(CASES))
def test_role_command_matrix(name: str, role: Role) -> None:
    case = CASES[name]
    k = Kit(None, None, "ch", "org", "d1", "d2", "ob", "fr1", "fr2")
    k.join("hall", role=Role.ROOM)
    case.setup(k)
    actor = ACTOR[role]
    if role in case.allowed:
        events = k.do(actor, case.command)
        assert events, f"{name} by {role} changed nothing visible"
        assert case.check(k, actor), f"{name} by {role} did not take effect"
    else:
        err = k.refuse(actor, case.command, Forbidden)
        assert err.details.get("role") == str(role)


def test_floor_can_go_to_delegates_and_chairs_only() -> None:
    k = Kit(None, None, "ch", "org", "d1", "ob", "fr1")
    for target in ("org", "ob", "fr1"):
        k.refuse("ch", c.FloorGive(target), InvalidInput)
    k.refuse("ch", c.FloorGive("nobody"), NotFound)
    k.do("ch", c.FloorGive("ch"))  # the chair gives the floor to itself to speak
    assert list(k.room.floor.holders) == ["ch"]


def test_commands_from_someone_not_in_the_room_are_refused() -> None:
    k = Kit(None, None, "ch")
    with pytest.raises(NotFound):
        k.room.handle("ghost", c.FloorRequest(), k.now)


def test_presiding_roles_cannot_be_removed_nor_remove_themselves() -> None:
    k = Kit(None, None, "ch", "org")
    k.refuse("org", c.ParticipantRemove("ch"), Forbidden)
    k.refuse("ch", c.ParticipantRemove("ch"), InvalidInput)
