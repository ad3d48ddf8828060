"""How `mirp serve` runs uvicorn: bounded connections, a request-head deadline, no token in logs.

uvicorn bounds an idle keep-alive connection (`timeout_keep_alive`) but not a connection that
sends its request head one byte at a time (slowloris): each byte restarts nothing and the
connection is held forever. `with_head_timeout` closes a connection whose request line and
headers are not complete within `head_timeout_s` of its opening (or of its previous response).
It subclasses uvicorn's HTTP protocol and relies on four of its internals (`loop`, `transport`,
`cycle`, `on_response_complete`): they are used here only, and tests/core/test_serving.py
checks them against real connections.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from typing import Any

from mirp.config import Settings

# `t=...` (join.html's old link form) and any query parameter whose name contains "token"
_TOKEN_PARAM = re.compile(r"(?i)([?&](?:t|[^=&#]*token[^=&#]*)=)[^&#\s]*")


def redact(url: str) -> str:
    return _TOKEN_PARAM.sub(r"\1[redacted]", url)


class RedactTokens(logging.Filter):
    """On uvicorn's access log: the URL's tokens are replaced by [redacted]."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    config["handlers"]["access"].setdefault("filters", []).append("redact_tokens")
    return config


def with_head_timeout(base: type[asyncio.Protocol], timeout_s: float) -> type[asyncio.Protocol]:
    """`base` (one of uvicorn's HTTP protocols) closing connections slow to send a head."""

    class HeadTimeout(base):  # type: ignore[valid-type, misc]
        _head_timer: asyncio.TimerHandle | None = None
        _head_cycle: Any = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._arm_head_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._head_timer is not None and (
                    self.cycle is not self._head_cycle
                    or self.transport.get_protocol() is not self):  # a head came, or a WebSocket
                self._disarm_head_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():  # keep-alive: the next head has a deadline too
                self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            self._disarm_head_timer()
            self._head_cycle = self.cycle
            self._head_timer = self.loop.call_later(timeout_s, self._head_expired)

        def _disarm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_expired(self) -> None:
            self._head_timer = None
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return
            busy = self.cycle is not None and not self.cycle.response_complete
            if self.cycle is self._head_cycle and not busy:
                self.transport.close()

    HeadTimeout.__name__ = f"HeadTimeout{base.__name__}"
    return HeadTimeout


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run's keyword arguments for these settings (besides the app)."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    limits = settings.limits
    return {
        "host": settings.host, "port": settings.port, "log_level": settings.log_level,
        "log_config": log_config(),
        "ws_max_size": limits.ws_frame_bytes,
        "http": with_head_timeout(AutoHTTPProtocol, limits.head_timeout_s),
        "limit_concurrency": limits.max_connections,
        "timeout_keep_alive": 5,
        "h11_max_incomplete_event_size": 16 * 1024,  # a request head larger than this: 400
        "ssl_certfile": str(settings.tls_certfile) if settings.tls_certfile else None,
        "ssl_keyfile": str(settings.tls_keyfile) if settings.tls_keyfile else None,
    }
