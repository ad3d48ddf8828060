"""Test factory: a meeting with languages, booths, and participant tokens for every role.

The default meeting (`standard_meeting_body()`), status "open":
  languages en, fr, zh, ar
  booths    fr  understands en                  (works from the English floor directly)
            zh  understands fr only             (relays: takes the fr booth when the floor is
                                                 not French)
            ar  understands en, fr, retour en   (works into Arabic, and back into English)
  people    chair, delegate1..delegate3 (delegations A, B, C), interpreter_fr1, interpreter_fr2,
            interpreter_zh1, interpreter_ar1, observer

Everything goes through the real code (repository or REST API), real tokens, a real database.

Functions (all async unless said):
- `running_app(tmp_path, **settings) -> (app, client)` (async context manager): create_app() on
  a fresh SQLite file in tmp_path, its lifespan running, and an httpx.AsyncClient on it
  (ASGITransport, base http://testserver). No socket; good for REST tests.
- `served_app(tmp_path, **settings) -> ServedApp` (async context manager): the same app served
  by uvicorn on 127.0.0.1:<free port> in this event loop (for WebSocket clients);
  `.app`, `.base_url` ("http://127.0.0.1:N"), `.ws_url` ("ws://127.0.0.1:N").
- `make_meeting(target, **options) -> MeetingFixture`: `target` is an httpx.AsyncClient on the
  app (goes through the REST API: signup, create, open, invite, join) or a FastAPI app whose
  lifespan runs (goes straight through the repository with app.state.db / app.state.settings).
  Options: `body` (meeting JSON, default standard_meeting_body()), `status` ("open"),
  `delegates` (3), `interpreters` ({"fr": 2, "zh": 1, "ar": 1}), `observer` (True),
  `chair` (True).
- `make_meeting_db(db, settings, **options)` and `make_meeting_http(client, **options)`: the two
  paths by name.
- `join_token(target, meeting, role, name=None, booth=None, **fields) -> Person`: one more
  participant (through the same path).
- `MeetingFixture`: `.meeting_id`, `.meeting` (the meeting JSON), `.people[key] -> Person`,
  `.tokens[key] -> participant token`, `.organizer_token` (bearer for the REST API),
  `.by_role(role) -> [Person]`.
- `Person`: key, participant_id, token (participant token for the WebSocket hello), role, name,
  delegation, booth, invitation_id.
- `organizer_token(client, email=None)`: sign up (or log in) an organizer, return the bearer.
- `app_settings(tmp_path, **overrides) -> Settings` (sync): what the apps above run with: data in
  tmp_path (SQLite), `secret_key=SECRET` (so tests can verify or forge tokens with
  mirp.tokens), `ice_loopback_only=True`. Any Settings field can be overridden, e.g.
  `database_url=`, `redis_url=`, `limits={"reconnect_grace_s": 2.0}`.
- `standard_meeting_body(**overrides) -> dict` (sync): the default meeting's JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from mirp.config import Settings
from tests.support.procs import free_port
from tests.support.wait import until

DEFAULT_INTERPRETERS = {"fr": 2, "zh": 1, "ar": 1}
SECRET = "test-secret-key-of-the-factory-0123456789"


def standard_meeting_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Plenary session",
        "starts_at": "2026-05-04T09:00:00Z",
        "ends_at": "2026-05-04T12:00:00Z",
        "languages": ["en", "fr", "zh", "ar"],
        "booths": [
            {"language": "fr", "understands": ["en"]},
            {"language": "zh", "understands": ["fr"]},
            {"language": "ar", "understands": ["en", "fr"], "retour": "en"},
        ],
        "options": {"under_levels_db": [-12, -18, -24], "capacity": 500},
        "registration_open": False,
    }
    body.update(overrides)
    return body


@dataclass(frozen=True)
class Person:
    key: str
    participant_id: str
    token: str
    role: str
    name: str
    delegation: str | None = None
    booth: str | None = None
    invitation_id: str | None = None


@dataclass
class MeetingFixture:
    meeting_id: str
    meeting: dict[str, Any]
    organizer_token: str
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def tokens(self) -> dict[str, str]:
        return {k: p.token for k, p in self.people.items()}

    def by_role(self, role: str) -> list[Person]:
        return [p for p in self.people.values() if p.role == role]


def app_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path, "secret_key": SECRET,
                              "ice_loopback_only": True,
                              # suites sign up and join by the hundred from one address
                              "rate_limits": {"enabled": False}}
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_app(tmp_path: Path,
                      **settings: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    from mirp.app import create_app

    app = create_app(app_settings(tmp_path, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


@dataclass
class ServedApp:
    app: FastAPI
    base_url: str
    ws_url: str


@asynccontextmanager
async def served_app(tmp_path: Path, **settings: Any) -> AsyncIterator[ServedApp]:
    import uvicorn

    from mirp.app import create_app

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings.setdefault("public_base_url", base)
    s = app_settings(tmp_path, host="127.0.0.1", port=port, **settings)
    app = create_app(s)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", ws_max_size=s.limits.ws_frame_bytes))
    task = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started or task.done(), "uvicorn listening", 10, step=0.025)
        if not server.started:
            if task.done() and task.exception():
                raise RuntimeError("the app failed to start") from task.exception()
            raise RuntimeError("the app did not start listening")
        yield ServedApp(app=app, base_url=base, ws_url=f"ws://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


def _roster(delegates: int, interpreters: dict[str, int], observer: bool,
            chair: bool) -> list[tuple[str, str, str, str | None, str | None]]:
    """(key, role, name, delegation, booth) of everyone to invite."""
    people: list[tuple[str, str, str, str | None, str | None]] = []
    if chair:
        people.append(("chair", "chair", "Chloé Chair", None, None))
    for i in range(1, delegates + 1):
        people.append((f"delegate{i}", "delegate", f"Delegate {i}", f"Delegation {chr(64 + i)}",
                       None))
    for booth, n in interpreters.items():
        for i in range(1, n + 1):
            people.append((f"interpreter_{booth}{i}", "interpreter",
                           f"Interpreter {booth.upper()} {i}", None, booth))
    if observer:
        people.append(("observer", "observer", "Olivier Observer", None, None))
    return people


# ----------------------------------------------------------------------------- through HTTP

def _ok(r: httpx.Response) -> Any:
    assert r.status_code < 400, f"{r.request.method} {r.request.url} -> {r.status_code} {r.text}"
    return r.json() if r.content else None


_counter = 0


async def organizer_token(client: httpx.AsyncClient, email: str | None = None,
                          password: str = "correct horse battery") -> str:
    """Sign up a fresh organizer (or log in an existing one) and return their bearer token."""
    global _counter
    _counter += 1
    email = email or f"organizer{_counter}-{id(client)}@example.org"
    r = await client.post("/api/auth/signup",
                          json={"email": email, "name": "Olga Organizer", "password": password})
    if r.status_code == 409:
        r = await client.post("/api/auth/login", json={"email": email, "password": password})
    return str(_ok(r)["token"])


async def make_meeting_http(client: httpx.AsyncClient, *, body: dict[str, Any] | None = None,
                            status: str = "open", delegates: int = 3,
                            interpreters: dict[str, int] | None = None, observer: bool = True,
                            chair: bool = True, bearer: str | None = None) -> MeetingFixture:
    bearer = bearer or await organizer_token(client)
    auth = {"Authorization": f"Bearer {bearer}"}
    meeting = _ok(await client.post("/api/meetings", json=body or standard_meeting_body(),
                                    headers=auth))
    if meeting["status"] != status:
        meeting = _ok(await client.patch(f"/api/meetings/{meeting['id']}",
                                         json={"status": status}, headers=auth))
    fx = MeetingFixture(meeting_id=meeting["id"], meeting=meeting, organizer_token=bearer)
    interpreters = DEFAULT_INTERPRETERS if interpreters is None else interpreters
    for key, role, name, delegation, booth in _roster(delegates, interpreters, observer, chair):
        fx.people[key] = await join_token(client, fx, role, name=name, booth=booth,
                                          delegation=delegation, key=key)
    return fx


async def _join_http(client: httpx.AsyncClient, fx: MeetingFixture, key: str, role: str,
                     name: str, booth: str | None, delegation: str | None) -> Person:
    auth = {"Authorization": f"Bearer {fx.organizer_token}"}
    inv = _ok(await client.post(f"/api/meetings/{fx.meeting_id}/invitations", headers=auth,
                                json={"role": role, "name": name, "booth": booth,
                                      "delegation": delegation, "max_uses": 1}))
    joined = _ok(await client.post("/api/join", json={"token": inv["token"]}))
    return Person(key=key, participant_id=joined["participant_id"],
                  token=joined["participant_token"], role=role, name=name,
                  delegation=delegation, booth=booth, invitation_id=inv["id"])


# ----------------------------------------------------------------------------- through the repo

async def make_meeting_db(db: Any, settings: Settings, *, body: dict[str, Any] | None = None,
                          status: str = "open", delegates: int = 3,
                          interpreters: dict[str, int] | None = None, observer: bool = True,
                          chair: bool = True) -> MeetingFixture:
    from mirp.store import accounts, repo
    from mirp.store.schemas import MeetingIn

    global _counter
    _counter += 1
    data = MeetingIn.model_validate({**(body or standard_meeting_body()), "status": status})
    async with db.session() as session:
        org = await accounts.create_account(
            session, email=f"db-organizer{_counter}-{id(db)}@example.org", name="Olga Organizer",
            password="correct horse battery")
        meeting = await repo.create_meeting(session, org, data)
        meeting_json = (await repo.meeting_out(session, meeting)).model_dump(mode="json")
        bearer = accounts.auth_out(settings, org).token
    fx = MeetingFixture(meeting_id=meeting.id, meeting=meeting_json, organizer_token=bearer)
    interpreters = DEFAULT_INTERPRETERS if interpreters is None else interpreters
    for key, role, name, delegation, booth in _roster(delegates, interpreters, observer, chair):
        fx.people[key] = await _join_db(db, settings, fx, key, role, name, booth, delegation)
    return fx


async def _join_db(db: Any, settings: Settings, fx: MeetingFixture, key: str, role: str,
                   name: str, booth: str | None, delegation: str | None) -> Person:
    from mirp.store import invites, repo
    from mirp.store.schemas import InvitationIn, JoinIn

    async with db.session() as session:
        meeting = await repo.load_meeting(session, fx.meeting_id)
        inv = await invites.add_invitation(session, settings, meeting, InvitationIn(
            role=role, name=name, booth=booth, delegation=delegation,  # type: ignore[arg-type]
            max_uses=1))
        token = invites.invitation_token(settings, inv)
    async with db.session() as session:
        joined = await invites.join(session, settings, JoinIn(token=token, participant_token=None))
    return Person(key=key, participant_id=joined.participant_id, token=joined.participant_token,
                  role=role, name=name, delegation=delegation, booth=booth,
                  invitation_id=inv.id)


# ----------------------------------------------------------------------------- either way

async def make_meeting(target: httpx.AsyncClient | FastAPI, **options: Any) -> MeetingFixture:
    if isinstance(target, httpx.AsyncClient):
        return await make_meeting_http(target, **options)
    return await make_meeting_db(target.state.db, target.state.settings, **options)


async def join_token(target: httpx.AsyncClient | FastAPI, fx: MeetingFixture, role: str, *,
                     name: str | None = None, booth: str | None = None,
                     delegation: str | None = None, key: str | None = None) -> Person:
    """Invite and join one more participant into `fx` (recorded in fx.people under `key`)."""
    key = key or f"{role}{len(fx.people) + 1}"
    name = name or key.capitalize()
    if isinstance(target, httpx.AsyncClient):
        person = await _join_http(target, fx, key, role, name, booth, delegation)
    else:
        person = await _join_db(target.state.db, target.state.settings, fx, key, role, name,
                                booth, delegation)
    fx.people[key] = person
    return person
