"""How records and Room snapshots are written into the journal (mirp/journal.py), and read back.

Records have an explicit form (JSON, one object per record, the type by name) so a journal left
by one version can be replayed into the database by the next. A Room snapshot is the pure Room
object pickled behind a header (`format`, MIRP version): a snapshot made by another version or
format is not restored (the room starts fresh, logged), because the Room's classes may differ.
The journal file is the server's own (mode 0600, in its data directory), never client input.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pickle
import time
from datetime import datetime
from typing import Any, NamedTuple

import mirp
from mirp.rooms import model
from mirp.rooms.model import Record, Role
from mirp.rooms.room import Room

log = logging.getLogger("mirp.rooms.durable")

SNAPSHOT_FORMAT = 3  # 2: the Room made of parts (roster, floor, interpretation, told); 3: seats
RECORD_TYPES: dict[str, type[Record]] = {
    cls.__name__: cls
    for cls in (
        model.AttendanceRecord,
        model.SpeakingTurnRecord,
        model.OnAirTurnRecord,
        model.ListeningRecord,
        model.LifecycleRecord,
        model.RemovalRecord,
        model.QualityRecord,
        model.FailedJoinRecord,
    )
}
DECISIONS = (model.LifecycleRecord, model.RemovalRecord)  # committed before their ack


def encode_record(record: Record) -> bytes:
    out: dict[str, Any] = {"t": type(record).__name__}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        out[f.name] = value.isoformat() if isinstance(value, datetime) else value
    return json.dumps(out, separators=(",", ":")).encode()


def decode_record(body: bytes) -> Record:
    """Raises ValueError (or KeyError/TypeError) for a body that is not a record."""
    data = json.loads(body)
    cls = RECORD_TYPES[data.pop("t")]
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name in ("at", "started_at", "ended_at"):
            value = datetime.fromisoformat(value)
        elif f.name == "role" and value is not None:
            value = Role(value)
        kwargs[f.name] = value
    record: Record = cls(**kwargs)
    return record


class Snapshot(NamedTuple):
    room: Room
    seq: int  # the room's event counter
    at: float  # when it was taken (epoch seconds)


def encode_room(room: Room, seq: int) -> bytes:
    header = {"format": SNAPSHOT_FORMAT, "mirp": mirp.__version__, "seq": seq, "at": time.time()}
    return json.dumps(header).encode() + b"\n" + pickle.dumps(room, pickle.HIGHEST_PROTOCOL)


def decode_room(body: bytes, meeting_id: str) -> Snapshot | None:
    """The Room and its event counter, or None (logged) when the snapshot is not restorable."""
    head, _, blob = body.partition(b"\n")
    try:
        header = json.loads(head)
    except ValueError:
        log.warning("room %s: snapshot without a header: starting fresh", meeting_id)
        return None
    if header.get("format") != SNAPSHOT_FORMAT or header.get("mirp") != mirp.__version__:
        log.warning(
            "room %s: snapshot of format %s by MIRP %s (this is %s, %s): starting fresh",
            meeting_id, header.get("format"), header.get("mirp"), SNAPSHOT_FORMAT,
            mirp.__version__,
        )
        return None
    try:
        room = pickle.loads(blob)
    except Exception:
        log.exception("room %s: snapshot unreadable: starting fresh", meeting_id)
        return None
    if not isinstance(room, Room) or room.spec.id != meeting_id:
        log.warning("room %s: snapshot of something else: starting fresh", meeting_id)
        return None
    return Snapshot(room, int(header.get("seq", 0)), float(header.get("at", 0.0)))


def newest(meeting_id: str, *bodies: bytes | None) -> Snapshot | None:
    """The restorable snapshot with the highest (event counter, time) among `bodies` (the
    journal's, the cluster's: cluster/snapshots.py): the room's `seq` only grows, from one
    origin to the next (a restored room goes on from its snapshot's)."""
    found = [s for b in bodies if b is not None
             if (s := decode_room(b, meeting_id)) is not None]
    return max(found, key=lambda s: (s.seq, s.at), default=None)
