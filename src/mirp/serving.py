"""How `mirp serve` runs uvicorn: bounded connections, a request-head deadline, no token in logs;
and `mirp serve --workers N`: a supervisor of N worker processes sharing one port (`Supervisor`).

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
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from mirp.config import Settings

log = logging.getLogger("mirp.serving")

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


# ---------------------------------------------------------------- `mirp serve --workers N`
RESTART_FIRST_S = 0.5  # a worker that died is started again after this, doubled while it
RESTART_MAX_S = 10.0  # keeps dying within STEADY_S of its start (a crash loop), up to this
STEADY_S = 10.0
STOP_GRACE_S = 30.0  # after SIGTERM, how long workers may take to drain before SIGKILL


def listening_socket(host: str, port: int) -> socket.socket:
    """The port, bound once by the supervisor and inherited by every worker (see Supervisor)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """N `mirp serve` worker processes on one machine, each a node of the cluster (its own
    MIRP_NODE_ID, `<base>-<i>`, stable across its restarts: its journal file is named after it).

    The port is bound once, here, and the listening socket is passed to each worker as a file
    descriptor (not SO_REUSEPORT): the port stays bound while a worker restarts, so no connection
    waiting in a dead worker's own accept queue is lost (with SO_REUSEPORT each worker has its
    own queue, reset when it dies); a port already taken fails here, once, at start; and no
    other process can join the port. The kernel hands each connection to whichever worker
    accepts first, so a busy worker (a slow event loop) takes fewer. A worker that exits is
    started again; SIGTERM or SIGINT stops every worker (SIGTERM: they drain) and then the
    supervisor."""

    def __init__(self, workers: int, node_base: str, env: dict[str, str]) -> None:
        self.workers, self.node_base, self.env = workers, node_base, env
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.restarts = 0
        self._stop = False

    def node_id(self, index: int) -> str:
        return f"{self.node_base}-{index}"

    def _spawn(self, index: int, fd: int) -> subprocess.Popen[bytes]:
        env = {**self.env, "MIRP_NODE_ID": self.node_id(index)}
        return subprocess.Popen([sys.executable, "-m", "mirp", "serve", "--fd", str(fd)],
                                env=env, pass_fds=(fd,))

    def _signalled(self, signum: int, frame: object) -> None:
        self._stop = True

    def run(self, sock: socket.socket) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._signalled)
        fd = sock.fileno()
        started: dict[int, float] = {}
        due: dict[int, float] = {}  # when a dead worker is started again
        delay = dict.fromkeys(range(self.workers), RESTART_FIRST_S)
        while not self._stop:
            now = time.monotonic()
            for i in range(self.workers):
                proc = self.procs.get(i)
                if proc is not None and proc.poll() is None:
                    continue
                if proc is not None:  # it died
                    del self.procs[i]
                    steady = now - started[i] >= STEADY_S
                    delay[i] = RESTART_FIRST_S if steady else min(RESTART_MAX_S, delay[i] * 2)
                    due[i] = now + delay[i]
                    log.warning("worker %s exited (%s); starting it again in %.1f s",
                                self.node_id(i), proc.returncode, delay[i])
                if now >= due.get(i, 0.0):
                    if i in due:
                        self.restarts += 1
                    self.procs[i] = self._spawn(i, fd)
                    started[i] = now
                    due.pop(i, None)
            time.sleep(0.2)  # the supervision period: a dead worker is seen within it
        self.stop()
        return 0

    def stop(self) -> None:
        """SIGTERM to every worker, SIGKILL to those still running after STOP_GRACE_S."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.procs.values():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
