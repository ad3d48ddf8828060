"""Whose camera each participant's video streams show: the Room's share of `MixPlan.video`.

Two streams per viewer at most (media/plan.py names them): the floor video, large, for everyone
who has not turned video off; and for an interpreter who asked for it (`video_set(partner=True)`)
the booth partner's camera, small, beside it. Interpreters need the speaker first (faces,
gestures, slides); the partner's face helps a handover, and costs a second stream only to those
who want it. Why a module of its own: the Room (rooms/room.py) only asks for the map.
"""

from __future__ import annotations

from mirp.media.plan import partner_stream
from mirp.rooms.model import Role
from mirp.rooms.parts import RoomParts
from mirp.rooms.presence import Participant


def floor_video(room: RoomParts) -> str | None:
    """Whose camera every viewer sees: the floor holder given the floor last (a speaker
    before a chair who also holds it), else the chair; None with nobody connected to show
    (media/video.py forwards it; without a camera, viewers see no video: audio only)."""
    connected = room.roster.connected_ids()
    holders = [pid for pid in room.floor.holders if pid in connected]
    speakers = [pid for pid in holders if room.participants[pid].role is not Role.CHAIR]
    if speakers or holders:
        return (speakers or holders)[-1]
    chairs = [p.id for p in room.participants.values() if p.role is Role.CHAIR and p.connected]
    return chairs[0] if chairs else None


def booth_partner(room: RoomParts, p: Participant) -> str | None:
    """The interpreter whose camera `p` sees as the partner video: another connected member of
    p's booth, the one on air if it is not p (whom p will hand over to, or take over from),
    else the first who joined; None in a booth of one."""
    booth = room.booths.get(p.booth or "")
    if booth is None:
        return None
    mates = [pid for pid in booth.members
             if pid != p.id and (q := room.participants.get(pid)) is not None and q.connected]
    if booth.on_air in mates:
        return booth.on_air
    return mates[0] if mates else None


def set_camera(room: RoomParts, participant_id: str, on: bool) -> None:
    """Whether this participant's peer sends a camera (its offer's first video m-line): shown
    in their view (`camera`), so the chair sees who takes the floor audio only."""
    p = room.roster.get(participant_id)
    if p is not None and p.camera != on:
        p.camera = on
        room.changes.touch(p.id)


def video_map(room: RoomParts) -> dict[str, str]:
    """Video stream -> the publisher it shows (MixPlan.video). Video off: no stream at all,
    the partner's included; nobody sees their own camera."""
    shown = floor_video(room)
    out: dict[str, str] = {}
    for p in room.participants.values():
        if not p.connected or p.video_off:
            continue
        if shown is not None and p.id != shown:
            out[p.id] = shown
        if p.partner_video and (partner := booth_partner(room, p)) is not None:
            out[partner_stream(p.id)] = partner
    return out
