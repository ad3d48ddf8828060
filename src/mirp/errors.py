"""Typed errors. Each has a stable code, an HTTP status and a WebSocket close code.

The REST layer renders any MirpError as {"error": {"code", "message", "details"}}; signaling
sends it as an `error` message (and closes the socket with `ws_close` when the error ends the
session).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class MirpError(Exception):
    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500
    ws_close: ClassVar[int] = 1011

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data, for a reply that crosses a process (the media process's
        replies, media/wire.py; the origin's answers to an edge, rooms/hop.py)."""
        return {"code": self.code, "message": self.message, "details": self.details}

    @staticmethod
    def from_dict(error: Mapping[str, Any]) -> MirpError:
        """The typed error `to_dict` carried, raised again on this side (an unknown code comes
        back as a plain MirpError with its message)."""
        cls = _error_classes().get(str(error.get("code")), MirpError)
        details = error.get("details")
        return cls(str(error.get("message", "error")), details if isinstance(details, dict)
                   else None)


class InvalidInput(MirpError):
    code = "invalid_input"
    http_status = 422
    ws_close = 4400


class InvalidMessage(InvalidInput):
    code = "invalid_message"


class MessageTooLarge(InvalidInput):
    code = "message_too_large"
    http_status = 413
    ws_close = 1009


class InvalidSdp(InvalidInput):
    code = "invalid_sdp"


class UnsupportedMediaType(InvalidInput):
    """A body of another content type than the endpoint takes (WHIP/WHEP: application/sdp)."""

    code = "unsupported_media_type"
    http_status = 415


class Unauthorized(MirpError):
    code = "unauthorized"
    http_status = 401
    ws_close = 4401


class Forbidden(MirpError):
    code = "forbidden"
    http_status = 403
    ws_close = 4403


class NotFound(MirpError):
    code = "not_found"
    http_status = 404
    ws_close = 4404


class Conflict(MirpError):
    code = "conflict"
    http_status = 409
    ws_close = 4409


class PreconditionFailed(Conflict):
    """An `If-Match` that names another state of the resource (WHIP/WHEP PATCH)."""

    code = "precondition_failed"
    http_status = 412


class NotSupported(MirpError):
    """A request this server understands but does not do (WHIP/WHEP: an ICE restart)."""

    code = "not_supported"
    http_status = 501
    ws_close = 4400


class Unavailable(MirpError):
    code = "unavailable"
    http_status = 503
    ws_close = 1013


class TooSlow(MirpError):
    """A client that does not read its messages fast enough is disconnected, not buffered."""

    code = "too_slow"
    http_status = 503
    ws_close = 4408


class ClosedMeeting(Forbidden):
    """The meeting is closed (by its chair or by REST): nobody joins or rejoins it. A code of its
    own, so the join page says "closed" rather than "revoked or used up"; on the WebSocket the
    same close code as the chair's `meeting_close`."""

    code = "meeting_closed"
    ws_close = 4410


class MeetingFull(MirpError):
    """The meeting has as many participants as it may. Worth trying again later (someone may
    leave), so it is not 4409 ("replaced", final): the browser retries with a long back-off."""

    code = "meeting_full"
    http_status = 503
    ws_close = 4429


class RateLimited(MirpError):
    """Too many attempts from one address or at one account: wait `retry_after_s` (the HTTP
    answer carries it as Retry-After)."""

    code = "rate_limited"
    http_status = 429
    ws_close = 1013  # on the WebSocket: try again later (4429 is a full meeting)

    def __init__(self, message: str, retry_after_s: float,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message, {"retry_after_s": round(retry_after_s, 1), **(details or {})})
        self.retry_after_s = retry_after_s


def _error_classes() -> dict[str, type[MirpError]]:
    """Every error class by its code."""
    found: dict[str, type[MirpError]] = {}
    todo: list[type[MirpError]] = [MirpError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found
