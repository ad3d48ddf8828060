"""What each command does, and who may do it: the one place roles are checked.

`MAY` says which roles may send each command; `dispatch` matches the command's class and hands
it to the part of the Room it concerns (rooms/room.py). Every branch checks everything first
(target, state) and only then changes the state, so a refused command leaves the Room as it was.

The floor may be given to a delegate or a chair (the chair gives it to itself to speak);
organizers and observers never send audio, interpreters speak through their booth, and a `room`
participant (the meeting room's sound desk) is heard while the floor is in the room
(`floor_room`, rooms/mixing.py `floor_ingredients`), never given the floor.
"""

from __future__ import annotations

from collections.abc import Mapping

from mirp.errors import Conflict, Forbidden, InvalidInput, NotFound
from mirp.interpretation.console import check_source
from mirp.interpretation.routing import FLOOR
from mirp.rooms import commands as c
from mirp.rooms.events import Audience, Notice, Removed
from mirp.rooms.mixing import Subscription
from mirp.rooms.model import RemovalRecord, Role, utc
from mirp.rooms.parts import RoomParts
from mirp.rooms.presence import Participant

EVERYONE = frozenset(Role)
PRESIDING = frozenset({Role.CHAIR, Role.ORGANIZER})
FLOOR_ROLES = frozenset({Role.CHAIR, Role.DELEGATE})  # the roles that hold the floor
INTERPRETER = frozenset({Role.INTERPRETER})  # in their own booth
SPEAKING = FLOOR_ROLES | {Role.ROOM}  # the roles whose language the floor language may follow

MAY: Mapping[type[c.Command], tuple[frozenset[Role], str]] = {
    c.Subscribe: (EVERYONE, "subscribe"),
    c.Quality: (EVERYONE, "report quality"),
    c.VideoSet: (EVERYONE, "turn video on or off"),
    c.Leave: (EVERYONE, "leave"),
    c.FloorRequest: (FLOOR_ROLES, "request the floor"),
    c.FloorWithdraw: (FLOOR_ROLES, "withdraw from the floor"),
    c.FloorGive: (PRESIDING, "give the floor"),
    c.FloorTake: (PRESIDING, "take the floor back"),
    c.SpeakersReorder: (PRESIDING, "reorder the speakers list"),
    c.FloorTimeLimit: (PRESIDING, "set the speaking time"),
    c.ParticipantMute: (PRESIDING, "mute a participant"),
    c.FloorLanguage: (PRESIDING, "set the floor language"),
    c.FloorRoom: (PRESIDING, "say where the floor is"),
    c.MeetingOpen: (PRESIDING, "open the meeting"),
    c.MeetingClose: (PRESIDING, "close the meeting"),
    c.ParticipantRemove: (PRESIDING, "remove a participant"),
    # one's own (delegate, chair) or, presiding, anyone's who may hold the floor
    c.ParticipantLanguage: (SPEAKING | PRESIDING, "set the language spoken on the floor"),
    c.OnAir: (INTERPRETER, "go on air"),
    c.ConsoleOutput: (INTERPRETER, "choose a booth output"),
    c.Cough: (INTERPRETER, "cough"),
    c.HandoverRequest: (INTERPRETER, "ask for a handover"),
    c.HandoverAccept: (INTERPRETER, "accept a handover"),
    c.HandoverDecline: (INTERPRETER, "decline a handover"),
    c.BoothChat: (INTERPRETER, "use the booth chat"),
    c.SlowDown: (INTERPRETER, "ask the speaker to slow down"),
}


def check_allowed(p: Participant, command: c.Command) -> None:
    """NotFound for a command the Room does not know; Forbidden for a role that may not."""
    allowed = MAY.get(type(command))
    if allowed is None:
        raise NotFound(f"no such command: {command.type!r}")
    roles, what = allowed
    if p.role not in roles:
        raise Forbidden(
            f"a {p.role} may not {what}",
            {"role": str(p.role), "allowed": sorted(str(r) for r in roles)},
        )


def dispatch(room: RoomParts, p: Participant, command: c.Command, now: float) -> None:
    check_allowed(p, command)
    booths = room.interpretation
    match command:
        # ------------------------------------------------------------ everyone
        case c.Subscribe():
            subscribe(room, p, command, now)
        case c.Quality():
            numbers = {
                "rtt": command.rtt,
                "jitter": command.jitter,
                "loss": command.loss,
                "received": command.received,
            }
            room.roster.report_quality(p, command.grade, numbers, now)
        case c.VideoSet():
            if command.partner and p.role is not Role.INTERPRETER:
                raise Forbidden("only an interpreter sees a booth partner's video",
                                {"role": str(p.role)})
            partner = p.partner_video if command.partner is None else command.partner
            if p.video_off == command.on or p.partner_video != partner:
                p.video_off = not command.on  # the next plan carries it (rooms/video_plan.py)
                p.partner_video = partner
                room.changes.touch(p.id)
        case c.Leave():
            room.drop(p.id, now, "left")
        # ------------------------------------------------------------ floor
        case c.FloorRequest():
            room.floor.request(p.id, command.kind, now)
        case c.FloorWithdraw():
            if p.id in room.floor.holders:
                room.end_turn(p.id, now)
            elif not room.floor.withdraw_request(p.id):
                raise Conflict("you neither hold nor requested the floor")
        case c.FloorGive():
            t = room.roster.target(command.participant_id)
            if t.role not in FLOOR_ROLES:
                raise InvalidInput(
                    f"a {t.role} cannot hold the floor",
                    {"participant_id": t.id, "role": str(t.role)},
                )
            if not t.connected:
                raise Conflict("this participant is not connected", {"participant_id": t.id})
            room.floor.give(t.id, now, timed=t.role is Role.DELEGATE)
        case c.FloorTake():
            room.end_turn(command.participant_id, now)
        case c.SpeakersReorder():
            room.floor.reorder(command.order)
        case c.FloorTimeLimit():
            room.floor.set_time_limit(command.seconds, now)
        case c.ParticipantMute():
            room.floor.mute(command.participant_id, command.muted)
        case c.FloorLanguage():
            if command.language is not None and command.language not in room.spec.languages:
                raise InvalidInput(
                    "not a language of this meeting",
                    {"language": command.language, "languages": list(room.spec.languages)},
                )
            room.floor.language_set = command.language
        case c.FloorRoom():
            room.floor.set_room_mode(command.mode)
        case c.ParticipantLanguage():
            participant_language(room, p, command)
        # ------------------------------------------------------------ meeting
        case c.MeetingOpen():
            room.open_meeting(now, p.id)
        case c.MeetingClose():
            room.close_meeting(now, p.id)
        case c.ParticipantRemove():
            remove(room, p, command.participant_id, now)
        # ------------------------------------------------------------ booths
        case c.OnAir():
            booths.absorb(booths.booth_of(p).set_on_air(p.id, command.on, now))
        case c.ConsoleOutput():
            booths.absorb(booths.booth_of(p).set_output(p.id, command.channel, now))
        case c.Cough():
            booths.booth_of(p).set_cough(p.id, command.on)
        case c.HandoverRequest():
            booths.request_handover(p, command.to, now, room.limits.handover_timeout_s)
        case c.HandoverAccept():
            booths.absorb(booths.booth_of(p).accept_handover(p.id, now))
        case c.HandoverDecline():
            booths.absorb(booths.booth_of(p).decline_handover(p.id))
        case c.BoothChat():
            booths.chat_message(p, command.text, now)
        case c.SlowDown():
            room.changes.emit(
                Notice(
                    "slow_down",
                    Audience.presiding(*room.floor.holders),
                    sender=p.id,
                    booth=booths.booth_of(p).language,
                )
            )
        case _:  # in MAY but not here: a programming error, refused like an unknown command
            raise NotFound(f"no such command: {command.type!r}")


def subscribe(room: RoomParts, p: Participant, cmd: c.Subscribe, now: float) -> None:
    """A listener's choice; for an interpreter it is what they hear (the floor or a relay),
    and `auto` hands that choice back to auto-relay."""
    booths = room.interpretation
    interpreter = p.id in booths.consoles
    if cmd.channel == c.AUTO_RELAY:
        if not interpreter:
            raise InvalidInput("auto-relay is for interpreters", {"channel": c.AUTO_RELAY})
        booths.follow_auto_relay(p, room.floor_language, now)
        return
    if cmd.channel == c.MINUS_ROOM and not interpreter:
        room.roster.subscribe(p, Subscription(FLOOR, minus_room=True), now, False)
        return
    check_source(cmd.channel, room.spec.languages)
    under = cmd.floor_under
    if under is not None and under not in room.under_levels:
        raise InvalidInput(
            "floor-under level not offered in this meeting",
            {"floor_under": under, "levels": list(room.under_levels)},
        )
    sub = Subscription(cmd.channel, None if cmd.channel == FLOOR else under)
    auto = booths.choose(p, sub) if interpreter else False
    room.roster.subscribe(p, sub, now, auto)


def participant_language(room: RoomParts, p: Participant, cmd: c.ParticipantLanguage) -> None:
    """The language `cmd.participant_id` (default: the sender) speaks on the floor; the
    automatic floor language follows it while they hold the floor."""
    if cmd.participant_id is None or cmd.participant_id == p.id:
        if p.role not in SPEAKING:
            raise Forbidden(
                f"a {p.role} does not speak on the floor",
                {"role": str(p.role), "allowed": sorted(str(r) for r in SPEAKING)},
            )
        t = p
    else:
        if p.role not in PRESIDING:
            raise Forbidden(
                f"a {p.role} may not set another participant's language",
                {"role": str(p.role), "allowed": sorted(str(r) for r in PRESIDING)},
            )
        t = room.roster.target(cmd.participant_id)
        if t.role not in SPEAKING:
            raise InvalidInput(
                f"a {t.role} does not speak on the floor",
                {"participant_id": t.id, "role": str(t.role)},
            )
    if cmd.language is not None and cmd.language not in room.spec.languages:
        raise InvalidInput(
            "not a language of this meeting",
            {"language": cmd.language, "languages": list(room.spec.languages)},
        )
    t.spoken = cmd.language
    room.changes.touch(t.id)  # the floor language follows at the end of the change


def remove(room: RoomParts, chair: Participant, participant_id: str, now: float) -> None:
    t = room.roster.target(participant_id)
    if t.id == chair.id:
        raise InvalidInput("you cannot remove yourself: leave instead")
    if t.role in PRESIDING:
        raise Forbidden("a chair or organizer cannot be removed", {"participant_id": t.id})
    room.roster.removed.add(t.id)
    room.changes.emit(Removed(t.id, chair.id))
    room.changes.record(RemovalRecord(room.spec.id, t.id, chair.id, utc(now)))
    room.drop(t.id, now, "removed")
