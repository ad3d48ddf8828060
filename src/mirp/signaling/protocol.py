"""The wire protocol: every client message as one pydantic model, discriminated on "type".

Why strict: a typo in a field name is a bug in a client, and a silent default would hide it, so
extra fields are refused (`extra="forbid"`) except inside the browser's ICE candidate object,
whose shape browsers extend. Every text field has a length cap, and the whole message a byte cap
(Settings.limits.max_message_bytes), so one bad client cannot make the server allocate much.

Every client message may carry `id` (a number or short string) that the server echoes in its
reply (`ack {id}` or `error {id, ...}`), and `v`, the protocol major version (PROTOCOL_VERSION).
Server messages are described by the models at the bottom; room events come from
rooms/events.py (`Event.message()`) with a `seq` added by the runtime. docs/protocol.md describes
each message; tests/signaling/test_protocol_doc.py checks that it names every one of them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from mirp.errors import InvalidMessage, MessageTooLarge, MirpError

PROTOCOL_VERSION = 1

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Channel = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")]
Language = Annotated[
    str, Field(min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
]
MessageId = int | Annotated[str, Field(max_length=64)]

MAX_CHAT_CHARS = 1000  # as rooms.commands
MAX_SDP_CHARS = 60_000
MAX_TOKEN_CHARS = 4096


class ClientMessage(BaseModel):
    """Fields every client message may carry."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    id: MessageId | None = None
    v: int | None = None


class Hello(ClientMessage):
    """First message of every Session: who I am (the participant token from POST /api/join)."""

    type: Literal["hello"]
    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_CHARS)]
    resume: Annotated[str, Field(max_length=128)] | None = None


class Offer(ClientMessage):
    type: Literal["offer"]
    sdp: Annotated[str, Field(min_length=1, max_length=MAX_SDP_CHARS)]


class IceCandidate(BaseModel):
    """RTCIceCandidate.toJSON(); an empty `candidate` means end of candidates."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True, allow_inf_nan=False)

    candidate: Annotated[str, Field(max_length=1024)]
    sdpMid: Annotated[str, Field(max_length=64)] | None = None  # the browser's names
    sdpMLineIndex: Annotated[int, Field(ge=0, le=64)] | None = None
    usernameFragment: Annotated[str, Field(max_length=256)] | None = None


class Ice(ClientMessage):
    type: Literal["ice"]
    candidate: IceCandidate | None = None  # null: the client's gathering is complete


class Subscribe(ClientMessage):
    """What I hear: a channel, and optionally the floor underneath it at `floor_under` dB."""

    type: Literal["subscribe"]
    channel: Channel
    floor_under: Annotated[int, Field(ge=-60, le=0)] | None = None


class FloorRequest(ClientMessage):
    type: Literal["floor_request"]
    kind: Literal["speak", "point_of_order"] = "speak"


class FloorWithdraw(ClientMessage):
    type: Literal["floor_withdraw"]


class FloorGive(ClientMessage):
    type: Literal["floor_give"]
    participant_id: Id


class FloorTake(ClientMessage):
    type: Literal["floor_take"]
    participant_id: Id


class SpeakersReorder(ClientMessage):
    type: Literal["speakers_reorder"]
    order: Annotated[list[Id], Field(max_length=2000)]


class FloorTimeLimit(ClientMessage):
    type: Literal["floor_time_limit"]
    seconds: Annotated[int, Field(ge=1, le=86_400)] | None = None  # null: no limit


class ParticipantMute(ClientMessage):
    """Mute (or, with muted=false, unmute) a floor holder: they keep the floor."""

    type: Literal["participant_mute"]
    participant_id: Id
    muted: bool = True


class ParticipantRemove(ClientMessage):
    type: Literal["participant_remove"]
    participant_id: Id


class FloorLanguage(ClientMessage):
    type: Literal["floor_language"]
    language: Language | None = None  # null: automatic


class MeetingOpen(ClientMessage):
    type: Literal["meeting_open"]


class MeetingClose(ClientMessage):
    type: Literal["meeting_close"]


class OnAir(ClientMessage):
    type: Literal["on_air"]
    on: bool


class ConsoleOutput(ClientMessage):
    type: Literal["console_output"]
    channel: Language


class Cough(ClientMessage):
    type: Literal["cough"]
    on: bool


class Relay(ClientMessage):
    """An interpreter's listening source: the floor, another booth's language, or auto."""

    type: Literal["relay"]
    source: Channel


class HandoverRequest(ClientMessage):
    type: Literal["handover_request"]
    to: Id | None = None  # null: any partner in the booth


class HandoverAccept(ClientMessage):
    type: Literal["handover_accept"]


class HandoverDecline(ClientMessage):
    type: Literal["handover_decline"]


class BoothChat(ClientMessage):
    type: Literal["booth_chat"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_CHAT_CHARS)]


class SlowDown(ClientMessage):
    type: Literal["slow_down"]


class Quality(ClientMessage):
    """The client's view of its connection (from getStats), shown on the organizer's page."""

    type: Literal["quality"]
    rtt: Annotated[float, Field(ge=0, le=60)] | None = None
    jitter: Annotated[float, Field(ge=0, le=60)] | None = None
    loss: Annotated[float, Field(ge=0, le=1)] | None = None
    grade: Literal["good", "fair", "poor", "unknown"] | None = None
    received: Annotated[int, Field(ge=0)] | None = None  # packets received so far


class Leave(ClientMessage):
    """Leave the meeting for good (a closed socket alone is a disconnection: the floor and the
    booth wait for the grace period)."""

    type: Literal["leave"]


class Ping(ClientMessage):
    type: Literal["ping"]
    t: float | None = None


class Pong(ClientMessage):
    """The answer to the server's `ping` heartbeat."""

    type: Literal["pong"]
    t: float | None = None


AnyClientMessage = Annotated[
    Hello
    | Offer
    | Ice
    | Subscribe
    | FloorRequest
    | FloorWithdraw
    | FloorGive
    | FloorTake
    | SpeakersReorder
    | FloorTimeLimit
    | ParticipantMute
    | ParticipantRemove
    | FloorLanguage
    | MeetingOpen
    | MeetingClose
    | OnAir
    | ConsoleOutput
    | Cough
    | Relay
    | HandoverRequest
    | HandoverAccept
    | HandoverDecline
    | BoothChat
    | SlowDown
    | Quality
    | Leave
    | Ping
    | Pong,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyClientMessage)

CLIENT_MESSAGES: dict[str, type[ClientMessage]] = {
    m.model_fields["type"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in ClientMessage.__subclasses__()
}


def _message_id(raw: object) -> int | str | None:
    if isinstance(raw, dict):
        mid = raw.get("id")
        if isinstance(mid, int) and not isinstance(mid, bool):
            return mid
        if isinstance(mid, str) and len(mid) <= 64:
            return mid
    return None


class ProtocolError(InvalidMessage):
    """A message that cannot be understood; carries the client's `id` when it could be read."""

    def __init__(
        self, message: str, msg_id: int | str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details)
        self.msg_id = msg_id


def _no_constant(name: str) -> Any:
    """NaN and ±Infinity are not JSON (a browser could not read them echoed back): refused."""
    raise ValueError(f"{name} is not a JSON number")


def parse_client(text: str | bytes, max_bytes: int) -> ClientMessage:
    """Decode one client message or raise a typed error (MessageTooLarge, ProtocolError)."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise MessageTooLarge(
            f"message of {size} bytes exceeds the limit of {max_bytes}",
            {"limit": max_bytes, "size": size},
        )
    try:
        raw = json.loads(text, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from None
    except RecursionError:  # deeper than the decoder's stack: no message of ours nests so
        raise ProtocolError("malformed JSON: nested too deeply") from None
    msg_id = _message_id(raw)
    if not isinstance(raw, dict):
        raise ProtocolError('a message is a JSON object with a "type"')
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError('missing "type"', msg_id)
    if kind not in CLIENT_MESSAGES:
        raise ProtocolError(f"unknown message type {kind[:40]!r}", msg_id, {"type": kind[:40]})
    v = raw.get("v")
    if v is not None and v != PROTOCOL_VERSION:
        raise ProtocolError(
            f"unsupported protocol version {v!r} (this server speaks {PROTOCOL_VERSION})",
            msg_id,
            {"supported": [PROTOCOL_VERSION]},
        )
    try:
        msg: ClientMessage = _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or e["loc"][0], "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        first = fields[0]
        raise ProtocolError(
            f"{kind}: {first['field']}: {first['message']}", msg_id, {"fields": fields}
        ) from None
    return msg


# --- server messages ---------------------------------------------------------------------------
# Models for what the server sends, so that docs and tests can name them. Room events are listed
# by rooms/events.py; each is sent as its `message()` dict with `seq` added.


class ServerMessage(BaseModel):
    model_config = ConfigDict(frozen=True)


class Welcome(ServerMessage):
    type: Literal["welcome"] = "welcome"
    v: int = PROTOCOL_VERSION
    participant_id: str
    session_id: str
    resume: str
    resumed: bool = False
    seq: int  # the last room event folded into `room`; events that follow have larger seq
    room: dict[str, Any]
    ice_servers: list[dict[str, Any]]
    heartbeat_s: float


class Answer(ServerMessage):
    type: Literal["answer"] = "answer"
    sdp: str
    id: MessageId | None = None


class ServerIce(ServerMessage):
    type: Literal["ice"] = "ice"
    candidate: dict[str, Any] | None


class Ack(ServerMessage):
    type: Literal["ack"] = "ack"
    id: MessageId | None = None


class Error(ServerMessage):
    type: Literal["error"] = "error"
    id: MessageId | None = None
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    fatal: bool = False  # the server closes the socket after it


class ServerPing(ServerMessage):
    type: Literal["ping"] = "ping"
    t: float


class ServerPong(ServerMessage):
    type: Literal["pong"] = "pong"
    id: MessageId | None = None
    t: float | None = None


class PeerClosed(ServerMessage):
    """The server's side of the Peer ended (ICE failed, DTLS closed, silence past the peer
    timeout): make a new peer connection (a new `offer`) on the same Session."""

    type: Literal["peer_closed"] = "peer_closed"
    reason: str


SERVER_MESSAGES: dict[str, type[ServerMessage]] = {
    m.model_fields["type"].default: m for m in ServerMessage.__subclasses__()
}


def error_message(
    exc: MirpError, msg_id: int | str | None = None, *, fatal: bool = False
) -> dict[str, Any]:
    return Error(
        id=msg_id, code=exc.code, message=exc.message, details=exc.details, fatal=fatal
    ).model_dump(exclude_none=True)


def dump(msg: ServerMessage) -> dict[str, Any]:
    return msg.model_dump(exclude_none=True)
