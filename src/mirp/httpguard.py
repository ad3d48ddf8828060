"""What every HTTP request meets before a route: a body cap, no NUL in the URL, security headers.

Pure ASGI middlewares (WebSocket scopes pass through untouched):
- `BodyCap`: a request body over the cap is refused with 413 `too_large` without being read
  whole: a Content-Length over the cap is refused before the first byte is read, and a chunked
  body is counted as it streams (Starlette's `RequestBodyLimitResponder` does the counting; we
  only choose the cap by path, since the bulk CSV endpoint needs more than the rest). A body
  that does not arrive whole in time is 408 `timeout`.
- `NoNulInUrl`: a NUL character in the path or query string is 422 `invalid_input` (PostgreSQL
  refuses NUL in text: a path parameter carrying one would otherwise be a 500).
- `SecurityHeaders`: a Content-Security-Policy with no inline script or style, no framing,
  `nosniff`, no Referer (join links carry their token in the fragment; belt and braces).
"""

from __future__ import annotations

import asyncio
import json

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import RequestBodyLimitResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self' ws: wss:",  # the signaling WebSocket (same host; CSP2 browsers need ws:)
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
    (b"cross-origin-opener-policy", b"same-origin"),
]


async def _send_error(send: Send, status: int, code: str, message: str,
                      details: dict[str, object] | None = None) -> None:
    body = json.dumps({"error": {"code": code, "message": message,
                                 "details": details or {}}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyCap:
    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int],
                 timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger  # path suffix -> its cap
        self.timeout_s = timeout_s  # the whole body, from the route's first read

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        cap = next((n for suffix, n in self.larger.items() if path.endswith(suffix)),
                   self.max_bytes)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > cap:  # refused before a byte is read
            await _send_error(send, 413, "too_large",
                              f"the request body is over {cap} bytes", {"max_bytes": cap})
            return
        await RequestBodyLimitResponder(self.app, cap)(scope, self._in_time(receive), send)

    def _in_time(self, receive: Receive) -> Receive:
        """`receive`, failing with 408 when the body is not whole `timeout_s` after the route
        began reading it (a body sent a byte at a time would hold a worker forever). Once the
        body is in, `receive` is the server's own (a streaming answer awaits the disconnect on
        it for as long as it streams)."""
        deadline: float | None = None
        done = False

        async def receive_in_time() -> Message:
            nonlocal deadline, done
            if done:
                return await receive()
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self.timeout_s
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408, f"the request body did not arrive within "
                                         f"{self.timeout_s:g} s") from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        return receive_in_time


class NoNulInUrl:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
                await _send_error(send, 422, "invalid_input",
                                  "NUL characters are not allowed in the URL")
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in SECURITY_HEADERS if h[0] not in have)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
