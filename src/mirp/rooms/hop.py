"""The messages between an edge and a meeting's origin (docs/cluster-sessions.md): one frozen
dataclass per message, one JSON encoding each, so the edge (rooms/remote.py) and the origin
(rooms/host.py) cannot disagree on a field.

Two directions, two topics:
- requests, edge -> origin, on `room.<meeting>.cmd` (Bus request/reply): `JoinRequest`,
  `CommandRequest`, `LeaveRequest`, `ResyncRequest`, and for a peer on the edge's own media
  plane `PeerUp`/`PeerDown`, answered `Done` or `Failed`;
- the stream, origin -> every edge, on `room.<meeting>.events`, fenced by the origin's lease
  epoch and numbered without a hole (the Envelope's `seq`): `EventOut` (a room event, encoded
  once, with its recipients), `DirectOut` (a message to one Session: an ack, `peer_closed`),
  `WelcomeOut`, `CloseOut`, `Resynced`, and the media plan for peers on edges: `ListenOut`,
  `PeerCloseOut`, `SourcesOut` (docs/cluster-sessions.md, "Media through an edge").
  Everything a Session is sent goes by this one ordered stream, so an ack still precedes its
  command's events and a welcome the join's events, as on a single process.
- REST decisions made on another node, to the origin node on `node.<origin>.decide`:
  `DecisionRequest`, answered `Answered` (its result) or `Failed` (rooms/cluster_rooms.py).
Commands travel in their client wire form (`commands.wire_form`) and are rebuilt through
`COMMAND_TYPES`, validated again by the same strict classes; errors by their code
(`MirpError.to_dict`/`from_dict`, the one encoding of a MirpError).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError

from mirp.errors import InvalidMessage, MirpError
from mirp.media.plan import FeedKey
from mirp.rooms.commands import COMMAND_TYPES, Command, wire_form
from mirp.rooms.events import JsonDict
from mirp.rooms.model import JoinGrant, Role


def command_topic(meeting_id: str) -> str:
    return f"room.{meeting_id}.cmd"


def events_topic(meeting_id: str) -> str:
    return f"room.{meeting_id}.events"


def open_topic(node_id: str) -> str:
    """A node's own topic: an edge asks the placed origin to open the meeting's room."""
    return f"node.{node_id}.open"


def decide_topic(node_id: str) -> str:
    """A node's own topic for the REST decisions on the meetings it is the origin of."""
    return f"node.{node_id}.decide"


# --- requests (edge -> origin) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenRequest:
    meeting_id: str
    epoch: int  # the placed lease the edge saw


@dataclass(frozen=True, slots=True)
class JoinRequest:
    grant: JoinGrant
    session_id: str  # the edge's Session id: the origin's stand-in Session has the same
    resume: str | None = None


@dataclass(frozen=True, slots=True)
class CommandRequest:
    participant_id: str
    session_id: str
    command: Command
    ack: JsonDict | None = None  # sent back on the stream once the Room accepted the command


@dataclass(frozen=True, slots=True)
class LeaveRequest:
    participant_id: str
    session_id: str
    for_good: bool = False


@dataclass(frozen=True, slots=True)
class ResyncRequest:
    token: str  # echoed by the `Resynced` it asks for
    sessions: tuple[tuple[str, str], ...]  # (participant id, session id) of the edge's Sessions


@dataclass(frozen=True, slots=True)
class PeerUp:
    """The edge's own media plane answered this participant's offer: the origin's Room counts
    the peer as on one process (rooms/edge_plane.py routes its media to that edge)."""

    participant_id: str
    session_id: str
    camera: bool = False  # its offer sends video: the Room shows it (rooms/video_plan.py)


@dataclass(frozen=True, slots=True)
class PeerDown:
    """The edge's plane reports the participant's peer gone (closed, failed, silent)."""

    participant_id: str
    session_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """A REST decision or read (api/deps.py `LiveRooms`: `revoke_invitation`, `booths_changed`,
    `meeting_deleted`, `meeting_status`, `options_changed`, `overview`) made on another node,
    for the Room at its origin (rooms/cluster_rooms.py). `args`: the call's keyword arguments,
    plain JSON."""

    meeting_id: str
    what: str
    args: JsonDict


Request = (OpenRequest | JoinRequest | CommandRequest | LeaveRequest | ResyncRequest | PeerUp
           | PeerDown | DecisionRequest)


@dataclass(frozen=True, slots=True)
class Done:
    pass


@dataclass(frozen=True, slots=True)
class Failed:
    error: MirpError


@dataclass(frozen=True, slots=True)
class Answered:
    """A `DecisionRequest`'s result (a list of participant ids, an overview, or None)."""

    value: Any


Reply = Done | Failed | Answered


# --- the stream (origin -> edges) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventOut:
    seq: int  # the room's seq (also inside `text`)
    text: str  # the event as every recipient gets it
    recipients: tuple[str, ...]  # participant ids


@dataclass(frozen=True, slots=True)
class DirectOut:
    session_id: str
    text: str


@dataclass(frozen=True, slots=True)
class WelcomeOut:
    session_id: str
    participant_id: str
    room: JsonDict
    seq: int
    resumed: bool


@dataclass(frozen=True, slots=True)
class CloseOut:
    session_id: str
    code: int
    reason: str
    error: MirpError | None = None


@dataclass(frozen=True, slots=True)
class Resynced:
    """The answer to a `ResyncRequest`, in its place in the stream: a fresh welcome for each
    Session still current at the origin; what follows it in the stream comes after it."""

    token: str
    welcomes: tuple[WelcomeOut, ...]


@dataclass(frozen=True, slots=True)
class ListenOut:
    """The origin's plan for a peer on an edge: the edge's plane sends it `key` (relayed from
    the origin; None: nothing)."""

    node_id: str  # the edge holding the peer (the others ignore it)
    participant_id: str
    key: FeedKey | None


@dataclass(frozen=True, slots=True)
class PeerCloseOut:
    """The origin's Room let go of a peer on an edge (Session ended, replaced, removed)."""

    node_id: str
    participant_id: str


@dataclass(frozen=True, slots=True)
class SourcesOut:
    """The sources the origin's plan mixes now: each edge forwards those of its own peers to
    the origin's relay address (parked ones are not forwarded). With the plan's video (stream
    -> publisher, all nodes'): each edge sends its cameras watched elsewhere to the origin and
    takes those its viewers want from it (rooms/edge_media.py)."""

    sources: tuple[str, ...]
    video: tuple[tuple[str, str], ...] = ()


Out = (EventOut | DirectOut | WelcomeOut | CloseOut | Resynced | ListenOut | PeerCloseOut
       | SourcesOut)


# --- the encoding -------------------------------------------------------------------------------


def _grant_to(grant: JoinGrant) -> JsonDict:
    return {**asdict(grant), "role": grant.role.value}


def _grant_from(d: Any) -> JoinGrant:
    return JoinGrant(**{**d, "role": Role(d["role"])})


def _welcome_to(w: WelcomeOut) -> JsonDict:
    return {"op": "welcome", "session_id": w.session_id, "participant_id": w.participant_id,
            "room": w.room, "seq": w.seq, "resumed": w.resumed}


def _welcome_from(d: Any) -> WelcomeOut:
    return WelcomeOut(str(d["session_id"]), str(d["participant_id"]), dict(d["room"]),
                      int(d["seq"]), bool(d["resumed"]))


def _key_to(key: FeedKey | None) -> list[Any] | None:
    return None if key is None else [key.channel, key.under_level_db, key.minus]


def _key_from(d: Any) -> FeedKey | None:
    if d is None:
        return None
    channel, level, minus = d
    return FeedKey(str(channel), int(level), None if minus is None else str(minus))


def command_from(wire: Any) -> Command:
    cls = COMMAND_TYPES.get(str(wire.get("type")))
    if cls is None:
        raise InvalidMessage(f"unknown command {wire.get('type')!r}")
    return cls(**{k: v for k, v in wire.items() if k != "type"})


def dump(message: Request | Reply | Out) -> str:
    """The message's JSON text."""
    body: JsonDict
    match message:
        case OpenRequest():
            body = {"op": "open", "meeting_id": message.meeting_id, "epoch": message.epoch}
        case JoinRequest():
            body = {"op": "join", "grant": _grant_to(message.grant),
                    "session_id": message.session_id, "resume": message.resume}
        case CommandRequest():
            body = {"op": "command", "participant_id": message.participant_id,
                    "session_id": message.session_id, "command": wire_form(message.command),
                    "ack": message.ack}
        case LeaveRequest():
            body = {"op": "leave", "participant_id": message.participant_id,
                    "session_id": message.session_id, "for_good": message.for_good}
        case ResyncRequest():
            body = {"op": "resync", "token": message.token,
                    "sessions": [list(s) for s in message.sessions]}
        case PeerUp():
            body = {"op": "peer_up", "participant_id": message.participant_id,
                    "session_id": message.session_id, "camera": message.camera}
        case PeerDown():
            body = {"op": "peer_down", "participant_id": message.participant_id,
                    "session_id": message.session_id, "reason": message.reason}
        case DecisionRequest():
            body = {"op": "decide", "meeting_id": message.meeting_id, "what": message.what,
                    "args": message.args}
        case Answered():
            body = {"op": "answered", "value": message.value}
        case Done():
            body = {"op": "done"}
        case Failed():
            body = {"op": "failed", "error": message.error.to_dict()}
        case EventOut():
            body = {"op": "event", "seq": message.seq, "text": message.text,
                    "recipients": list(message.recipients)}
        case DirectOut():
            body = {"op": "direct", "session_id": message.session_id, "text": message.text}
        case WelcomeOut():
            body = _welcome_to(message)
        case CloseOut():
            body = {"op": "close", "session_id": message.session_id, "code": message.code,
                    "reason": message.reason,
                    "error": None if message.error is None else message.error.to_dict()}
        case Resynced():
            body = {"op": "resynced", "token": message.token,
                    "welcomes": [_welcome_to(w) for w in message.welcomes]}
        case ListenOut():
            body = {"op": "listen", "node_id": message.node_id,
                    "participant_id": message.participant_id, "key": _key_to(message.key)}
        case PeerCloseOut():
            body = {"op": "peer_close", "node_id": message.node_id,
                    "participant_id": message.participant_id}
        case SourcesOut():
            body = {"op": "sources", "sources": list(message.sources),
                    "video": [list(v) for v in message.video]}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def encode(message: Request | Reply | Out) -> bytes:
    return dump(message).encode()


def encode_stream(texts: Sequence[str]) -> bytes:
    """One stream envelope's body: the `dump`s of several messages, in order (the origin
    publishes what queued up meanwhile at once: one Redis message, not one per message)."""
    return ("[" + ",".join(texts) + "]").encode()


def decode_stream(data: bytes) -> list[Out]:
    try:
        items = json.loads(data)
    except ValueError as exc:
        raise InvalidMessage(f"bad hop stream: {exc}") from exc
    if not isinstance(items, list):
        raise InvalidMessage("bad hop stream: not a list")
    out: list[Out] = []
    for item in items:
        message = _from(item)
        if not isinstance(message, Out):
            raise InvalidMessage(f"not a stream message: {type(message).__name__}")
        out.append(message)
    return out


def decode(data: bytes) -> Request | Reply | Out:
    """Any message of the hop; `InvalidMessage` for anything else (a bad peer, a bug)."""
    try:
        d = json.loads(data)
    except ValueError as exc:
        raise InvalidMessage(f"bad hop message: {exc}") from exc
    return _from(d)


def _from(d: Any) -> Request | Reply | Out:
    try:
        match d["op"]:
            case "open":
                return OpenRequest(str(d["meeting_id"]), int(d["epoch"]))
            case "join":
                return JoinRequest(_grant_from(d["grant"]), str(d["session_id"]), d["resume"])
            case "command":
                return CommandRequest(str(d["participant_id"]), str(d["session_id"]),
                                      command_from(d["command"]), d["ack"])
            case "leave":
                return LeaveRequest(str(d["participant_id"]), str(d["session_id"]),
                                    bool(d["for_good"]))
            case "resync":
                return ResyncRequest(str(d["token"]),
                                     tuple((str(p), str(s)) for p, s in d["sessions"]))
            case "peer_up":
                return PeerUp(str(d["participant_id"]), str(d["session_id"]),
                              bool(d.get("camera", False)))
            case "peer_down":
                return PeerDown(str(d["participant_id"]), str(d["session_id"]),
                                str(d["reason"]))
            case "decide":
                return DecisionRequest(str(d["meeting_id"]), str(d["what"]), dict(d["args"]))
            case "answered":
                return Answered(d["value"])
            case "done":
                return Done()
            case "failed":
                return Failed(MirpError.from_dict(d["error"]))
            case "event":
                return EventOut(int(d["seq"]), str(d["text"]),
                                tuple(str(p) for p in d["recipients"]))
            case "direct":
                return DirectOut(str(d["session_id"]), str(d["text"]))
            case "welcome":
                return _welcome_from(d)
            case "close":
                error = None if d["error"] is None else MirpError.from_dict(d["error"])
                return CloseOut(str(d["session_id"]), int(d["code"]), str(d["reason"]), error)
            case "resynced":
                return Resynced(str(d["token"]), tuple(_welcome_from(w) for w in d["welcomes"]))
            case "listen":
                return ListenOut(str(d["node_id"]), str(d["participant_id"]),
                                 _key_from(d["key"]))
            case "peer_close":
                return PeerCloseOut(str(d["node_id"]), str(d["participant_id"]))
            case "sources":
                return SourcesOut(tuple(str(s) for s in d["sources"]),
                                  tuple((str(s), str(p)) for s, p in d.get("video", ())))
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
        raise InvalidMessage(f"bad hop message: {exc}") from exc
    raise InvalidMessage(f"unknown hop message {d.get('op')!r}")
