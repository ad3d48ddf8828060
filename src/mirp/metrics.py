"""What the parts count for /metrics (api/metrics.py renders it in the Prometheus format).

A leaf: plain counters, no Prometheus import, so that signaling and the HTTP layer can count
without knowing how the numbers are shown, and a scrape only reads (never changes) them. One
`Tally` per app (on `app.state.tally`, made on first use by `tally_of`); the numbers are this
process's since it started, which is what Prometheus counters mean.

Labels are bounded by construction: an error code, a close code, a reason chosen by the server,
a route *template* (never a raw path, never a meeting id), an HTTP method and status.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mirp.errors import MirpError

UNMATCHED = "(unmatched)"  # a request no route took (404, or refused by a guard before routing)
STATIC = "(static)"  # the browser client's files (a Mount)
_REASON_MAX = 40  # a `details.reason` longer than this is not one of ours: not a label


@dataclass
class Tally:
    websockets_open: int = 0
    joins: int = 0
    # (error code, close code, details.reason) of each Session that ended before joining
    join_failures: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    # (method, route template, status)
    http: Counter[tuple[str, str, int]] = field(default_factory=Counter)

    def join_failed(self, error: MirpError, close: int | None = None) -> None:
        """A Session ended before its hello succeeded (`close`: when not the error's own)."""
        reason = error.details.get("reason", "")
        if not isinstance(reason, str) or len(reason) > _REASON_MAX:
            reason = ""
        self.join_failures[(error.code, close or error.ws_close, reason)] += 1


def tally_of(state: Any) -> Tally:
    """The app's Tally (`app.state`), made on first use so that every part finds the same one."""
    tally: Tally | None = getattr(state, "tally", None)
    if tally is None:
        tally = state.tally = Tally()
    return tally


def _template(scope: Scope) -> str:
    """The matched route's template with the prefixes of the routers it was included by: the
    route knows only its own part (`/meetings/{meeting_id}`), so the literal prefix (`/api`) is
    what the request's path has before the part the route matched."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return STATIC
    fmt = getattr(route, "path_format", None)
    if not isinstance(fmt, str):
        return UNMATCHED
    tail = fmt
    for name, value in dict(scope.get("path_params") or {}).items():
        tail = tail.replace("{" + str(name) + "}", str(value))
    path = str(scope.get("path", ""))
    return path[: len(path) - len(tail)] + fmt if path.endswith(tail) else fmt


class HttpCount:
    """ASGI middleware: each HTTP request by method, route template and status. Outermost, so
    the guards' refusals (413, 408, 422) are counted too; an exception counts as 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            tally_of(scope["app"].state).http[(scope["method"], _template(scope), status)] += 1
