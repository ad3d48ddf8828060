"""Signed tokens (PyJWT, HS256, keyed by Settings.resolved_secret_key()).

Four kinds, told apart by the `typ` claim so that one can never stand in for another:
- `inv`: an invitation, carried in the join link `/join.html#t=<token>`. It names the meeting,
  the invitation, the role and the booth. It is deterministic for one invitation (no random
  claim), so the organizer's list can show the same link again without storing it.
- `par`: a participant, returned by `POST /api/join`; the WebSocket `hello` carries it.
- `org`: an organizer's login (bearer token for the REST API).
- `web`: a viewer of one meeting's webcast when its option is `token` (docs/webcast.md).

A leaf module: it knows no Role or JoinGrant (rooms.model); a participant token's claims come
back as `ParticipantClaims`, which the store's Admission turns into a JoinGrant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from mirp.errors import Unauthorized

ALGORITHM = "HS256"
INVITATION = "inv"
PARTICIPANT = "par"
ORGANIZER = "org"
WEBCAST = "web"


class GrantLike(Protocol):
    """What a participant token is made from (rooms.model.JoinGrant fits)."""

    @property
    def meeting_id(self) -> str: ...
    @property
    def participant_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def delegation(self) -> str | None: ...
    @property
    def booth(self) -> str | None: ...
    @property
    def invitation_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class InvitationClaims:
    meeting_id: str
    invitation_id: str
    role: str
    booth: str | None
    expires_at: float


@dataclass(frozen=True, slots=True)
class ParticipantClaims:
    meeting_id: str
    participant_id: str
    name: str
    role: str
    delegation: str | None
    booth: str | None
    invitation_id: str | None
    expires_at: float


@dataclass(frozen=True, slots=True)
class OrganizerClaims:
    organizer_id: str
    expires_at: float


def _encode(secret: str, typ: str, claims: dict[str, Any], exp: float) -> str:
    return jwt.encode({"typ": typ, **claims, "exp": int(exp)}, secret, algorithm=ALGORITHM)


def _decode(secret: str, token: str, typ: str, what: str) -> dict[str, Any]:
    if not isinstance(token, str) or not token or len(token) > 4096:
        raise Unauthorized(f"malformed {what} token")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "typ"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized(f"this {what} token has expired", {"reason": "expired"}) from exc
    except jwt.InvalidSignatureError as exc:
        raise Unauthorized(f"bad {what} token signature", {"reason": "signature"}) from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"malformed {what} token", {"reason": "malformed"}) from exc
    if claims.get("typ") != typ:
        raise Unauthorized(f"not a {what} token", {"reason": "wrong_type"})
    return claims


def _str(claims: dict[str, Any], key: str, what: str, optional: bool = False) -> Any:
    value = claims.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise Unauthorized(f"malformed {what} token", {"reason": "malformed", "claim": key})
    return value


# --- invitations -----------------------------------------------------------------------------

def issue_invitation(secret: str, *, meeting_id: str, invitation_id: str, role: str,
                     booth: str | None, expires_at: float) -> str:
    return _encode(secret, INVITATION, {"mid": meeting_id, "iid": invitation_id, "role": role,
                                        "booth": booth}, expires_at)


def verify_invitation(secret: str, token: str) -> InvitationClaims:
    """Raises Unauthorized on a bad signature, expiry or a malformed token."""
    c = _decode(secret, token, INVITATION, "invitation")
    return InvitationClaims(meeting_id=_str(c, "mid", "invitation"),
                            invitation_id=_str(c, "iid", "invitation"),
                            role=_str(c, "role", "invitation"),
                            booth=_str(c, "booth", "invitation", optional=True),
                            expires_at=float(c["exp"]))


# --- participants ----------------------------------------------------------------------------

def issue_participant(secret: str, grant: GrantLike, ttl: float) -> str:
    """A participant token for `grant`, valid `ttl` seconds."""
    return _encode(secret, PARTICIPANT, {
        "mid": grant.meeting_id, "pid": grant.participant_id, "name": grant.name,
        "role": str(grant.role), "del": grant.delegation, "booth": grant.booth,
        "iid": grant.invitation_id}, time.time() + ttl)


def verify_participant(secret: str, token: str) -> ParticipantClaims:
    """Raises Unauthorized on a bad signature, expiry or a malformed token."""
    c = _decode(secret, token, PARTICIPANT, "participant")
    return ParticipantClaims(meeting_id=_str(c, "mid", "participant"),
                             participant_id=_str(c, "pid", "participant"),
                             name=_str(c, "name", "participant"),
                             role=_str(c, "role", "participant"),
                             delegation=_str(c, "del", "participant", optional=True),
                             booth=_str(c, "booth", "participant", optional=True),
                             invitation_id=_str(c, "iid", "participant", optional=True),
                             expires_at=float(c["exp"]))


# --- organizers ------------------------------------------------------------------------------

def issue_organizer(secret: str, organizer_id: str, ttl: float) -> str:
    return _encode(secret, ORGANIZER, {"sub": organizer_id}, time.time() + ttl)


def verify_organizer(secret: str, token: str) -> OrganizerClaims:
    c = _decode(secret, token, ORGANIZER, "login")
    return OrganizerClaims(organizer_id=_str(c, "sub", "login"), expires_at=float(c["exp"]))


# --- webcast viewers -------------------------------------------------------------------------

def issue_webcast(secret: str, meeting_id: str, ttl: float) -> str:
    return _encode(secret, WEBCAST, {"mid": meeting_id}, time.time() + ttl)


def verify_webcast(secret: str, token: str) -> str:
    """The meeting a webcast token is for; raises Unauthorized when it is bad or expired."""
    return str(_str(_decode(secret, token, WEBCAST, "webcast"), "mid", "webcast"))
