"""docs/protocol.md describes every message: each client message of the union, each server
message and each room event has its own section or row, and each example parses."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from mirp.rooms import commands, events
from mirp.signaling import protocol as p

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def sections(text: str, heading: str) -> dict[str, str]:
    part = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    found = re.split(r"^### `([a-z_]+)`\n", part, flags=re.M)
    return dict(zip(found[1::2], found[2::2], strict=True))


def test_every_client_message_has_a_section_with_an_example_that_parses() -> None:
    client = sections(DOC.read_text(), "Client → server messages")
    assert set(client) == set(p.CLIENT_MESSAGES)
    for kind, body in client.items():
        example = re.search(r"```json\n(.*?)\n```", body, flags=re.S)
        assert example, f"{kind}: no example"
        raw = example.group(1)
        if "…" in raw:  # abbreviated values: check the shape only
            obj = json.loads(raw)
            assert obj["type"] == kind
            continue
        assert p.parse_client(raw, 64 * 1024).message.type == kind


def test_every_server_message_has_a_section() -> None:
    server = sections(DOC.read_text(), "Server → client messages")
    assert set(server) == set(p.SERVER_MESSAGES)
    for kind, body in server.items():
        example = re.search(r"```json\n(.*?)\n```", body, flags=re.S)
        assert example and json.loads(example.group(1))["type"] == kind


def test_every_room_event_is_listed() -> None:
    text = DOC.read_text().split("## Room events", 1)[1]
    kinds = {
        cls.type
        for cls in vars(events).values()
        if isinstance(cls, type) and issubclass(cls, events.WireEvent) and cls.type
    }
    assert kinds
    missing = [k for k in kinds if f"| `{k}` |" not in text]
    assert not missing, missing


def test_docs_rooms_md_names_every_command_and_its_fields() -> None:
    """docs/rooms.md says what the Room does with each command: a row per command, naming each
    of its fields as the class does (its `quality` row once named fields the server refused)."""
    text = (DOC.parent / "rooms.md").read_text()
    part = text.split("## Client -> server (commands)", 1)[1].split("\n## ", 1)[0]
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([a-z_]+)` \|([^|]*)\|", part, flags=re.M)
    }
    assert set(rows) == set(commands.COMMAND_TYPES)
    for kind, cls in commands.COMMAND_TYPES.items():
        missing = [f.name for f in dataclasses.fields(cls) if f"`{f.name}`" not in rows[kind]]
        assert not missing, f"docs/rooms.md, {kind}: fields not named: {missing}"
