"""Every WebSocket close code a client can receive from this server, and what the browser does.

The one table: docs/protocol.md's close-code table and web/js/wire.js (`CLOSE_CODES`, with the
`final` flag web/js/protocol.js reconnects by) are generated from it
(`python -m mirp.signaling.schema`), and tests/signaling/test_close_codes_doc.py fails when the
sources use a code that is not here, or this lists one that nothing uses. The codes themselves
live where they are decided (an error's `ws_close` in mirp/errors.py, the `*_WS`/`*_CLOSE`
constants of rooms/runtime.py and signaling/); this says what each means to a client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Not ours: uvicorn closes every WebSocket with 1012 ("service restart") when the server stops
# (SIGTERM), before the app's own shutdown could close them with 1001. Named here so that the
# table says what a client receives.
SERVER_RESTART_CLOSE = 1012

Retry = Literal["no", "yes", "backoff", "slow", "never"]


@dataclass(frozen=True, slots=True)
class CloseCode:
    code: int
    name: str  # for logs and wire.js's CLOSE.<NAME>
    meaning: str
    retry: Retry  # what the browser does: see BROWSER

    @property
    def final(self) -> bool:
        """Reconnecting with the same token cannot help: the browser stops."""
        return self.retry == "never"


BROWSER: dict[Retry, str] = {
    "no": "—",
    "yes": "reconnects",
    "backoff": "reconnects, backing off (at least `details.retry_after_s`)",
    "slow": "retries after 15–30 s",
    "never": "stops",
}

CLOSE_CODES: tuple[CloseCode, ...] = (
    CloseCode(1000, "normal", "normal close (`leave`, or the client closed)", "no"),
    CloseCode(
        1001,
        "going_away",
        "going away: room idle, no new offer after `peer_closed`, heartbeat lost; rooms "
        "suspended when the app stops outside uvicorn (its rooms are restored when it is back)",
        "yes",
    ),
    CloseCode(1008, "no_hello", "no `hello` within the hello timer (see Session life)", "yes"),
    CloseCode(1009, "too_big", "message beyond the WebSocket server's maximum size", "yes"),
    CloseCode(1011, "internal", "internal error", "yes"),
    CloseCode(
        SERVER_RESTART_CLOSE,
        "server_restart",
        "the server is stopping or restarting (SIGTERM): uvicorn closes every Session with it; "
        "the rooms are restored when it is back",
        "yes",
    ),
    CloseCode(
        1013,
        "try_again",
        "unavailable, try again: server starting, busy admitting others (`details.reason`: "
        "`queue full`, `waited too long`), token check failed or too slow (`database`, "
        "`timeout`: the database is away or overloaded), room restarting, rate limited "
        "(`rate_limited`)",
        "backoff",
    ),
    CloseCode(4400, "invalid_message", "invalid message before `hello` succeeded", "never"),
    CloseCode(
        4401,
        "unauthorized",
        "unauthorized: bad, expired or tampered token (or, a client bug, another message "
        "before `hello`)",
        "never",
    ),
    CloseCode(
        4403,
        "forbidden",
        "forbidden: removed by the chair, invitation revoked (also a live Session, when the "
        "organizer revokes it: reason `revoked`), booth removed (`booth_removed`, also live), "
        "meeting not open (`not_open`), a token for another meeting than `/ws/{meeting_id}` "
        "names (`wrong_meeting`, whether or not that meeting exists)",
        "never",
    ),
    CloseCode(
        4404,
        "not_found",
        "the token's meeting no longer exists (also every live Session when the organizer "
        "deletes it: `not_found`, reason `deleted`)",
        "never",
    ),
    CloseCode(
        4408,
        "too_slow",
        "too slow: the client did not read its messages (a fresh welcome replaces what it "
        "missed)",
        "yes",
    ),
    CloseCode(
        4409,
        "replaced",
        "replaced: the same participant connected again (another tab or device, a reconnect); "
        "the page says so and offers to take it back here",
        "never",
    ),
    CloseCode(
        4410,
        "meeting_closed",
        "the meeting is closed: by the chair (`meeting_close`) or by the organizer (REST), live "
        "Sessions and any later `hello` (`meeting_closed`)",
        "never",
    ),
    CloseCode(
        4429,
        "meeting_full",
        "the meeting is full (`meeting_full`, its capacity reached): someone may leave",
        "slow",
    ),
)
BY_CODE: dict[int, CloseCode] = {c.code: c for c in CLOSE_CODES}
