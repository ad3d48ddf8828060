"""How a Room is shown: the welcome snapshot, the state messages, the organizer's overview.

The JSON shapes here are the ones web/js/roomview.js reads (documented in docs/rooms.md). The
`*_key` functions are what a state message shows minus the ticking clocks, so the Room sends a
message when something changed, not every time a countdown moves; `Told` remembers what was
last sent. Views only read the Room.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mirp.interpretation.booth import Booth
from mirp.interpretation.routing import FLOOR
from mirp.rooms.events import BoothChanged, ChannelsChanged, Event, FloorChanged
from mirp.rooms.parts import RoomParts


class Told:
    """What the clients were last told of the floor, the booths and the channels."""

    def __init__(self) -> None:
        self.floor: Any = None
        self.booths: dict[str, Any] = {}
        self.channels: Any = None

    def news(self, room: RoomParts, now: float) -> list[Event]:
        """One state message per thing that changed since it was last told."""
        out: list[Event] = []
        if (key := floor_key(room)) != self.floor:
            self.floor = key
            out.append(FloorChanged(room.floor.view(now, room.floor_language)))
        for lang, b in room.booths.items():
            if (bkey := booth_key(room, b, now)) != self.booths.get(lang):
                self.booths[lang] = bkey
                out.append(BoothChanged(booth_view(room, b, now)))
        if (ch := channels_view(room)) != self.channels:
            self.channels = ch
            out.append(ChannelsChanged(ch))
        return out


# -------------------------------------------------------------------- pieces


def meeting_view(room: RoomParts) -> dict[str, Any]:
    s = room.spec
    return {
        "id": s.id,
        "title": s.title,
        "languages": list(s.languages),
        "booths": [
            {
                "language": b.language,
                "retour": b.retour,
                "understands": sorted(b.understands),
                "auto_floor": b.auto_floor,
            }
            for b in s.booths
        ],
        "under_levels_db": list(room.under_levels),
        "status": str(room.status),
        "capacity": room.capacity,
        "recording": room.recording,  # a recorder writes now (not the option): the REC badge
        "captions": list(s.captions),  # the captioned channels (docs/captions.md)
    }


def floor_key(room: RoomParts) -> Any:
    return (room.floor.state_key(), room.floor_language)


def booth_view(room: RoomParts, b: Booth, now: float) -> dict[str, Any]:
    part = room.interpretation
    heard = part.inputs().get(b.language)
    auto = part.relay_for(b, room.floor_language)
    route = part.routes.get(b.output)
    consoles = {}
    for m in b.members:
        p = room.participants.get(m)
        con = part.consoles.get(m)
        if p is not None and con is not None:
            consoles[m] = con.view(p.channel, p.connected)
    return {
        "language": b.language,
        "retour": b.spec.retour,
        "outputs": list(b.outputs),
        "channel": b.output,
        "on_air": b.on_air,
        "cough": b.coughing,
        "live": bool(route is not None and route.booth == b.language and route.live),
        "input": heard,
        "relay": heard if heard not in (None, FLOOR) else None,
        "relay_auto": auto if auto != FLOOR else None,
        "understands_floor": b.understands(room.floor_language),
        "handover": b.handover_view(now),
        "members": list(b.members),
        "consoles": consoles,
    }


def booth_key(room: RoomParts, b: Booth, now: float) -> Any:
    v = booth_view(room, b, now)
    v["handover"] = b.handover
    return repr(v)


def channels_view(room: RoomParts) -> dict[str, Any]:
    return {ch: r.view() for ch, r in room.routes.items()}


# -------------------------------------------------------------------- the contract's views


def snapshot(room: RoomParts, participant_id: str) -> dict[str, Any]:
    """The full state the `welcome` message carries for this participant."""
    now = room.last_now
    me = room.participants.get(participant_id)
    con = room.consoles.get(participant_id)
    return {
        "participant_id": participant_id,
        "meeting": meeting_view(room),
        "participants": [p.view_for(me) for p in room.participants.values()],
        "floor": room.floor.view(now, room.floor_language),
        "booths": [booth_view(room, b, now) for b in room.booths.values()],
        "channels": channels_view(room),
        "me": me.view_for(me) if me else None,
        "subscription": {
            "channel": me.channel if me else FLOOR,
            "floor_under": me.floor_under if me else None,
            "auto": bool(con and con.auto),
        },
        "chat": list(room.interpretation.chat[con.booth]) if con is not None else [],
    }


def overview(room: RoomParts) -> dict[str, Any]:
    """The organizer's live page: who is connected, channels with listener counts (the
    channel as heard: an interpreter's relay counts for that channel), booths on air."""
    people = room.participants
    connected = [p for p in people.values() if p.connected]
    listeners = Counter(p.channel for p in connected)
    return {
        "meeting_id": room.spec.id,
        "status": str(room.status),
        "connected": len(connected),
        "present": len(people),
        "capacity": room.capacity,
        "by_role": dict(Counter(str(p.role) for p in connected)),
        "people": [
            {**p.view(), "quality": p.grade, "quality_detail": p.quality} for p in people.values()
        ],
        "channels": {
            ch: {**r.view(), "listeners": listeners.get(ch, 0)} for ch, r in room.routes.items()
        },
        "booths": [
            {
                "language": b.language,
                "on_air": b.on_air,
                "on_air_name": people[b.on_air].grant.name if b.on_air in people else None,
                "channel": b.output,
                "cough": b.coughing,
                "interpreters": len(b.members),
            }
            for b in room.booths.values()
        ],
        "floor": {
            "holders": list(room.floor.holders),
            "language": room.floor_language,
            "speakers": len(room.floor.speakers),
        },
    }
