"""The wire protocol: the envelope, the signaling-only client messages, and the server messages.

A client message is a JSON object `{"type", "id"?, "v"?, ...fields}`. The envelope (`id`, echoed
in the reply: `ack {id}` / `error {id, ...}`; `v`, the protocol major version) is read here and
is not part of any message class. The rest is validated by the class named by `type`:
- the Room's commands (rooms/commands.py): one class per message, the one definition, handed to
  the Room as parsed (there is no mapping from wire models to commands);
- the messages that never reach the Room (hello, offer, ice, ping, pong), defined below with
  the same strict rules (rooms.commands.STRICT).
`CLIENT_MESSAGES` is the table of both: looking the class up by `type` is what a discriminated
union does, and calling the class validates (unknown fields refused, no coercion). Every text
field has a length cap, the whole message a byte cap (Settings.limits.max_message_bytes), so one
bad client cannot make the server allocate much.

Server messages are the models at the bottom; room events come from rooms/events.py
(`WireEvent.message()`) with a `seq` added by the runtime. web/js/wire.js and the tables of
docs/protocol.md are generated from these definitions (`python -m mirp.signaling.schema`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass as plain_dataclass
from typing import Annotated, Any, ClassVar, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, ValidationError, with_config
from pydantic.dataclasses import dataclass
from typing_extensions import TypedDict

from mirp.errors import InvalidMessage, MessageTooLarge, MirpError
from mirp.rooms.commands import COMMAND_TYPES, STRICT, Command

PROTOCOL_VERSION = 1
ENVELOPE = ("id", "v")  # the fields every client message may carry, read before its class

MAX_SDP_CHARS = 60_000
MAX_TOKEN_CHARS = 4096
MAX_MESSAGE_ID_CHARS = 64
MessageId = int | str


@dataclass(frozen=True, slots=True, config=STRICT)
class Hello:
    """First message of every Session: who I am (the participant token from POST /api/join)."""

    type: ClassVar[str] = "hello"
    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_CHARS)]
    resume: Annotated[str, Field(max_length=128)] | None = None


@dataclass(frozen=True, slots=True, config=STRICT)
class Offer:
    """The client's SDP offer; answered with `answer`."""

    type: ClassVar[str] = "offer"
    sdp: Annotated[str, Field(min_length=1, max_length=MAX_SDP_CHARS)]


@with_config(ConfigDict(strict=True, extra="ignore", allow_inf_nan=False))
class IceCandidate(TypedDict):
    """RTCIceCandidate.toJSON(); an empty `candidate` means end of candidates. Extra fields are
    ignored, not refused: browsers extend this object."""

    candidate: Annotated[str, Field(max_length=1024)]
    sdpMid: NotRequired[Annotated[str, Field(max_length=64)] | None]  # the browser's names
    sdpMLineIndex: NotRequired[Annotated[int, Field(ge=0, le=64)] | None]
    usernameFragment: NotRequired[Annotated[str, Field(max_length=256)] | None]


@dataclass(frozen=True, slots=True, config=STRICT)
class Ice:
    """One trickled candidate of the client; null: the client's gathering is complete."""

    type: ClassVar[str] = "ice"
    candidate: IceCandidate | None = None


@dataclass(frozen=True, slots=True, config=STRICT)
class Ping:
    """The client's liveness check; answered with `pong` (same `id` and `t`)."""

    type: ClassVar[str] = "ping"
    t: float | None = None


@dataclass(frozen=True, slots=True, config=STRICT)
class Pong:
    """The answer to the server's `ping` heartbeat."""

    type: ClassVar[str] = "pong"
    t: float | None = None


SignalingMessage = Hello | Offer | Ice | Ping | Pong
ClientMessage = SignalingMessage | Command
SIGNALING_MESSAGES: Mapping[str, type[SignalingMessage]] = {
    m.type: m for m in (Hello, Offer, Ice, Ping, Pong)
}
CLIENT_MESSAGES: Mapping[str, type[ClientMessage]] = {**SIGNALING_MESSAGES, **COMMAND_TYPES}
assert len(CLIENT_MESSAGES) == len(SIGNALING_MESSAGES) + len(COMMAND_TYPES), "a type twice"


@plain_dataclass(frozen=True, slots=True)
class Incoming:
    """One parsed client message and the envelope's `id` (None: the client sent none)."""

    message: ClientMessage
    id: MessageId | None = None


def _message_id(raw: Mapping[str, Any]) -> MessageId | None:
    mid = raw.get("id")
    if isinstance(mid, int) and not isinstance(mid, bool):
        return mid
    if isinstance(mid, str) and len(mid) <= MAX_MESSAGE_ID_CHARS:
        return mid
    return None


class ProtocolError(InvalidMessage):
    """A message that cannot be understood; carries the client's `id` when it could be read."""

    def __init__(
        self, message: str, msg_id: MessageId | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details)
        self.msg_id = msg_id


def _no_constant(name: str) -> Any:
    """NaN and ±Infinity are not JSON (a browser could not read them echoed back): refused."""
    raise ValueError(f"{name} is not a JSON number")


def parse_client(text: str | bytes, max_bytes: int) -> Incoming:
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
    if not isinstance(raw, dict):
        raise ProtocolError('a message is a JSON object with a "type"')
    msg_id = _message_id(raw)
    kind = raw.pop("type", None)
    if not isinstance(kind, str):
        raise ProtocolError('missing "type"', msg_id)
    cls = CLIENT_MESSAGES.get(kind)
    if cls is None:
        raise ProtocolError(f"unknown message type {kind[:40]!r}", msg_id, {"type": kind[:40]})
    if raw.pop("id", None) is not None and msg_id is None:
        raise ProtocolError(
            f"{kind}: id: a number or a string of at most {MAX_MESSAGE_ID_CHARS} characters",
            None,
            {"fields": [{"field": "id", "message": "invalid message id"}]},
        )
    v = raw.pop("v", None)
    if v is not None and (type(v) is not int or v != PROTOCOL_VERSION):
        raise ProtocolError(
            f"unsupported protocol version {v!r} (this server speaks {PROTOCOL_VERSION})",
            msg_id,
            {"supported": [PROTOCOL_VERSION]},
        )
    try:
        message = cls(**raw)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]) or kind, "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        first = fields[0]
        raise ProtocolError(
            f"{kind}: {first['field']}: {first['message']}", msg_id, {"fields": fields}
        ) from None
    return Incoming(message, msg_id)


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
