"""Settings, validated once at start (environment variables prefixed MIRP_, or CLI flags).

The defaults run a whole server on one machine with nothing else installed: SQLite in the data
directory, no Redis, no STUN/TURN server.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class IceServer(BaseModel):
    """One STUN or TURN server handed to browsers and to the server's own peer connections."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Limits(BaseModel):
    """Caps that keep one bad client from hurting everyone else."""

    max_message_bytes: int = 64 * 1024  # one signaling message: larger gets a typed error...

    @property
    def ws_frame_bytes(self) -> int:
        """...up to this size; a frame beyond it is refused by the WebSocket layer (close 1009)."""
        return 4 * self.max_message_bytes
    outbox_messages: int = 256  # per session: a client this far behind is disconnected
    room_queue_commands: int = 1024  # per room: commands waiting for the room task
    max_participants_per_meeting: int = 2000
    join_batch: int = 100  # peer connections admitted at once (media-facts rule 8)
    heartbeat_s: float = 10.0
    peer_timeout_s: float = 8.0  # a peer silent this long is gone
    reconnect_grace_s: float = 20.0  # the floor survives a reconnect this short
    handover_timeout_s: float = 15.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MIRP_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None  # default: sqlite+aiosqlite:///<data_dir>/mirp.sqlite3
    redis_url: str | None = None  # default: everything in-process
    public_base_url: str | None = None  # default: http://<host>:<port>
    host: str = "127.0.0.1"
    port: int = 8000
    # HTTPS: browsers open the microphone only on https:// pages (or on localhost), so a server
    # that remote participants reach needs TLS: these files, or a reverse proxy in front.
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    secret_key: str | None = None  # default: generated once and kept in <data_dir>/secret.key
    ice_servers: Annotated[list[IceServer], NoDecode] = Field(default_factory=list)
    # Test runs only: gather and accept only 127.0.0.1 ICE candidates (see docs/testing.md).
    ice_loopback_only: bool = False
    token_ttl_hours: float = 24 * 14
    login_ttl_hours: float = 12
    limits: Limits = Field(default_factory=Limits)
    log_level: str = "info"
    # The database's bounds (docs/operations/heavy-db.md): connections kept / added under load,
    # and how long anything waits, in seconds; past these a request gets 503 `unavailable`.
    db_pool_size: Annotated[int, Field(ge=1)] = 10  # connections the pool keeps open
    db_pool_overflow: Annotated[int, Field(ge=0)] = 10  # extra connections opened under load
    db_pool_timeout_s: Annotated[float, Field(gt=0)] = 3.0  # waiting for a free pooled connection
    db_connect_timeout_s: Annotated[float, Field(gt=0)] = 3.0  # opening one (PostgreSQL)
    db_statement_timeout_s: Annotated[float, Field(gt=0)] = 5.0  # a statement; SQLite: a lock
    # Processes for CPU work (password hashes, bulk CSV and token signing, large pages): off
    # the event loop; 0 runs that work in a thread instead (not isolated: tests, tiny setups).
    cpu_workers: Annotated[int, Field(ge=0)] = 2
    # The browser client; default: web/ beside src/ in a checkout (the Dockerfile sets it).
    web_dir: Path = Path(__file__).resolve().parents[2] / "web"

    @field_validator("ice_servers", mode="before")
    @classmethod
    def _parse_ice(cls, value: object) -> object:
        # MIRP_ICE_SERVERS="stun:a.example:3478,turn:user:pass@b.example:3478"
        if isinstance(value, str):
            servers = []
            for item in filter(None, (v.strip() for v in value.split(","))):
                scheme, _, rest = item.partition(":")
                if "@" in rest:
                    cred, _, host = rest.rpartition("@")
                    user, _, password = cred.partition(":")
                    servers.append({"urls": [f"{scheme}:{host}"], "username": user,
                                    "credential": password})
                else:
                    servers.append({"urls": [item]})
            return servers
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'mirp.sqlite3').resolve()}"

    def resolved_base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        scheme = "https" if self.tls_certfile else "http"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"{scheme}://{host}:{self.port}"

    def resolved_secret_key(self) -> str:
        """The signing key: given, or generated on first start and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        self.secret_key = path.read_text().strip()
        return self.secret_key
