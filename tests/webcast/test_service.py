"""The Webcaster's control side: which rooms it relays, with which keys, and when it stops;
a fake media plane records the relay calls, the worker gets the configurations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mirp.media.plan import FeedKey
from mirp.rooms.mixing import BROADCAST
from mirp.rooms.room import Room
from mirp.webcast.service import Webcaster, link_id
from tests.rooms.kit import Kit, make_spec


@dataclass
class Runtime:
    room: Any
    closing: bool = False


class Registry:
    def __init__(self) -> None:
        self.rooms: dict[str, Any] = {}


class Plane:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def relay_to(self, link: str, address: Any, keys: Any, epoch: int) -> None:
        self.calls.append(("to", link, frozenset(keys), epoch))

    def relay_stop(self, link: str) -> None:
        self.calls.append(("stop", link))


def test_open_webcast_rooms_are_relayed_and_stopped(tmp_path: Path) -> None:
    registry, plane = Registry(), Plane()
    webcaster = Webcaster(registry, plane, tmp_path)  # type: ignore[arg-type]
    webcaster.address = ("127.0.0.1", 9)  # no worker thread in this test
    recorded = Kit(make_spec(recording=True)).room
    plain = Kit(make_spec(id="m2")).room
    assert isinstance(recorded, Room)
    registry.rooms = {recorded.spec.id: Runtime(recorded), "m2": Runtime(plain),
                      "m3": object()}  # a cluster's stand-in: no Room here
    webcaster.sync()
    ((kind, link, keys, epoch),) = plane.calls
    mid = recorded.spec.id
    assert (kind, link, epoch) == ("to", link_id(mid), 0)
    assert FeedKey(f"{mid}/floor", 0, BROADCAST) in keys
    assert keys == {FeedKey(f"{mid}/{ch}", 0, BROADCAST)
                    for ch in ("floor", *recorded.spec.languages)}
    webcaster.sync()  # nothing changed: nothing sent again
    assert len(plane.calls) == 1
    registry.rooms[mid] = Runtime(recorded, closing=True)
    webcaster.sync()
    assert plane.calls[-1] == ("stop", link_id(mid))
    webcaster.receiver.finish()
